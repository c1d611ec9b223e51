"""chatd's Redis client: one server at a fixed address, or the primary that Redis Sentinel names,
followed across a failover without a restart.

**One address** (``CHATD_REDIS_URL``, or the embedded server's Unix socket): a pool that waits
for a free connection.

**Sentinel** (``CHATD_REDIS_SENTINELS``, CONTRACT.md section 8). Sentinels watch a primary and
its replicas and, when a majority agrees the primary is down, promote a replica; a client asks
any Sentinel for the current primary of a service and asks again after losing its connection
(https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/ and "Sentinel clients",
https://redis.io/docs/latest/develop/reference/sentinel-clients/). redis-py's
``Sentinel.master_for`` does exactly that for each new connection of its pool, and closes the idle
ones when the answer changes. A primary that was demoted but still answers replies ``READONLY``
to a write: redis-py turns that into a ``ConnectionError`` and drops the connection, so the next
one asks the Sentinels again. Password, user, database number and TLS come from
``CHATD_REDIS_URL`` when it is set; its host and port are ignored.

**Timeouts and retries.** Every connection has explicit timeouts, so none stays stuck to a host
that vanished without closing its sockets (a machine that lost power, a partition): connecting
gives up after ``CONNECT_TIMEOUT_S``, a reply that does not come after ``SOCKET_TIMEOUT_S``
(longer than the longest blocking command chatd sends: BRPOP/BLMOVE of 1 s, WAIT of 1 s),
and an idle connection is checked with a PING before use after ``HEALTH_CHECK_S``. redis-py
retries nothing: a script whose reply was lost may have run, and sending it again would run it
twice. The callers decide: the worker's and the hub's loops back off and try again (asking the
Sentinels anew), and a client whose message was answered ``unavailable`` sends it again with
the same client_id, which stores it once.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff

from config.settings import Settings

# Redis runs one command at a time: more connections add no throughput, only set-up cost. At
# 512, a burst (1,000 seekers writing at once) made a web process open ~490 connections in a
# second, each with its handshake, on a core shared with Redis: a 1 s stall for everyone
# (bench figure 2's first window). 64 waiting their turn serve the same burst in milliseconds.
REDIS_MAX_CONNECTIONS = 64
REDIS_POOL_WAIT_S = 10.0
CONNECT_TIMEOUT_S = 2.0
SOCKET_TIMEOUT_S = 5.0
HEALTH_CHECK_S = 10
# A Sentinel that does not answer in this time is skipped for the next one in the list.
SENTINEL_TIMEOUT_S = 1.0


class BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """redis-py's Sentinel pool (each new connection goes to the primary the Sentinels name now)
    that waits up to ``timeout`` seconds for a free connection, as the one-address pool does,
    instead of raising at once when all ``max_connections`` are in use.

    Asking the Sentinels is one query at a time, shared by every connection that needs the
    address meanwhile, and shielded from its callers' cancellation. A caller that gives up (a
    request's timeout) must not cut a Sentinel query short: redis-py holds a connection in use
    only weakly, so one abandoned half-way is neither in use nor free, and is dropped unclosed
    (a failover test on a busy machine lost four; thirty in a stress of short timeouts). Sharing spares the
    Sentinels a storm of identical queries, too, when every task reconnects after a failover.
    """

    _discovery: asyncio.Task[Any] | None = None

    async def get_master_address(self) -> Any:
        task = self._discovery
        if task is None or task.done():
            discover = super().get_master_address()  # type: ignore[no-untyped-call]  # unannotated in redis-py
            task = self._discovery = asyncio.ensure_future(discover)
            task.add_done_callback(_retrieve)  # a failure nobody waited for is not an error
        return await asyncio.shield(task)

    async def finish_discovery(self) -> None:
        """Let a Sentinel query under way end (bounded by SENTINEL_TIMEOUT_S per Sentinel)."""
        if self._discovery is not None:
            await asyncio.wait([self._discovery])


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _no_retries() -> Retry:
    return Retry(NoBackoff(), 0)


def _connection_options() -> dict[str, Any]:
    """Options of every data connection (both kinds). Replies are decoded (UTF-8 ``str``):
    everything chatd keeps in Redis is text, checked to be valid Unicode where it enters
    (config/textrules.py)."""
    return {"decode_responses": True, "socket_timeout": SOCKET_TIMEOUT_S, "socket_connect_timeout": CONNECT_TIMEOUT_S,
            "health_check_interval": HEALTH_CHECK_S, "retry": _no_retries()}


def url_credentials(url: str | None) -> dict[str, Any]:
    """What a ``redis://`` or ``rediss://`` URL lends to Sentinel-found connections: ``username``,
    ``password`` (percent-decoded), ``db`` (the path's number, else ``?db=``, else 0) and
    ``ssl`` (``rediss``). Settings checked the scheme and the number (config/settings.py)."""
    if not url:
        return {}
    parts = urlsplit(url)
    query = dict(pair.split("=", 1) for pair in parts.query.split("&") if "=" in pair)
    db = parts.path.lstrip("/") or query.get("db") or "0"
    out: dict[str, Any] = {"db": int(db)}
    if parts.username:
        out["username"] = unquote(parts.username)
    if parts.password:
        out["password"] = unquote(parts.password)
    if parts.scheme == "rediss":
        out["ssl"] = True
    return out


def connect_redis(settings: Settings, url: str | None = None) -> Redis:
    """A client for chatd's processes: through the Sentinels when ``settings.redis_sentinels``
    is set, else to ``url`` (or ``settings.redis_url``). Close it with :func:`close_redis`.

    Its pool waits for a free connection (up to REDIS_POOL_WAIT_S) instead of failing at once:
    under load redis-py's default pool raised MaxConnectionsError, which turned a busy moment
    into refused messages, 500s to Twilio and half-done cleanups. Raises ValueError when there is
    neither Sentinels nor a URL.
    """
    if settings.redis_sentinels:
        sentinel = Sentinel(  # type: ignore[no-untyped-call]  # unannotated in redis-py
            list(settings.redis_sentinels),
            sentinel_kwargs={"socket_timeout": SENTINEL_TIMEOUT_S, "socket_connect_timeout": SENTINEL_TIMEOUT_S,
                             "retry": _no_retries()})
        client: Redis = sentinel.master_for(
            settings.redis_master, connection_pool_class=BlockingSentinelPool,
            max_connections=REDIS_MAX_CONNECTIONS, timeout=REDIS_POOL_WAIT_S,
            **_connection_options(), **url_credentials(settings.redis_url))
        return client
    target = url or settings.redis_url
    if target is None:
        raise ValueError("no Redis to connect to: neither Sentinels nor a URL")
    pool = BlockingConnectionPool.from_url(target, max_connections=REDIS_MAX_CONNECTIONS,
                                           timeout=REDIS_POOL_WAIT_S, **_connection_options())
    return Redis.from_pool(pool)


async def close_redis(redis: Redis) -> None:
    """Close a client of :func:`connect_redis`: its pool, and the Sentinels' connections if any."""
    pool = redis.connection_pool
    try:
        if isinstance(pool, BlockingSentinelPool):
            await pool.finish_discovery()
        await redis.aclose()
    finally:
        if isinstance(pool, SentinelConnectionPool):
            # Each Sentinel's client by itself: Sentinel.aclose() is recent in redis-py (>= 5.0 here).
            for sentinel in pool.sentinel_manager.sentinels:
                await sentinel.aclose()
