"""Django settings for P1: the apps the chat tutorial installs, production mode, no database use.

The Redis URL comes from ``P1_REDIS_URL``, which ``bench.p1_channels.__main__`` sets.
"""

from __future__ import annotations

import os

SECRET_KEY = "bench-only-not-a-secret"  # a throwaway process on the loopback
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "channels",
]
# AuthMiddlewareStack reads a session only when a consumer asks for the user, which the chat
# consumer never does: the database is configured and never opened.
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
ROOT_URLCONF: list[object] = []
USE_TZ = True
ASGI_APPLICATION = "bench.p1_channels.asgi.application"
# The layer over Redis pub/sub (channels_redis' RedisPubSubChannelLayer), as chatd's hub and
# B2 relay: the figures compare frameworks, not two ways of using Redis.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [os.environ.get("P1_REDIS_URL", "redis://127.0.0.1:6379/0")]},
    },
}
LOGGING_CONFIG = None
