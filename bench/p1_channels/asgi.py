"""The ASGI application, as the tutorial's ``asgi.py`` and ``routing.py``: Django for HTTP; for
websockets the origin check, the auth stack and ``ws/chat/<room_name>/``."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.p1_channels.settings")
# Django is set up before anything imports models (the auth middleware does).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import re_path  # noqa: E402

from bench.p1_channels.consumers import ChatConsumer  # noqa: E402

websocket_urlpatterns = [re_path(r"ws/chat/(?P<room_name>\w+)/$", ChatConsumer.as_asgi())]

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})
