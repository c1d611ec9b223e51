"""chatd: real-time chat and text peer support (the ASGI app, sockets, pages, commands)."""

__version__ = "0.1.0"
