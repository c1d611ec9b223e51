"""Typed views of replies from chatd's Redis client, which decodes them (``decode_responses``).

redis-py types a reply as ``bytes | str`` however its client was built. chatd builds every
client it hands on with ``decode_responses=True`` (``chatd.redis_client.connect_redis``, the commands'),
so a reply is ``str``: these functions say so to the type checker, here and nowhere else. They
convert nothing; a client that does not decode is a bug they would not hide for long (a
``bytes`` where a ``str`` is compared never matches).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import cast

Reply = bytes | str


def text(reply: Reply | None) -> str | None:
    """A string reply (GET, HGET, LINDEX, BLMOVE): None when the key or field is missing."""
    return cast(str | None, reply)


def texts(reply: Iterable[object]) -> list[str]:
    """The members of a set or list reply (SMEMBERS, LRANGE, ZRANGE), as a list."""
    return cast(list[str], list(reply))


def fields(reply: Iterable[Reply | None]) -> list[str | None]:
    """An HMGET reply: each field's value, None where missing."""
    return cast(list[str | None], list(reply))


def mapping(reply: Mapping[Reply, Reply]) -> dict[str, str]:
    """An HGETALL reply."""
    return cast(dict[str, str], dict(reply))
