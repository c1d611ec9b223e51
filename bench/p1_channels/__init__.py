"""P1: a chat relay as Django Channels' tutorial builds one, over channels_redis' pub/sub layer.

``settings.py`` (the project's settings), ``consumers.py`` (the tutorial's ``ChatConsumer``),
``asgi.py`` (the tutorial's routing); run as ``python -m bench.p1_channels PORT REDIS_URL``
under uvicorn with chatd's settings. Installed only for the bench (``pip install -e ".[bench]"``).
"""
