"""The ASGI application: routes, and the lifespan that owns every long-lived resource."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from chatd import auth, fanout, metrics, ops
from chatd.hub import Hub
from chatd.peer import peer_endpoint
from chatd.program import ProgramCache, ProgramListener, program_routes
from chatd.redis_client import close_redis, connect_redis
from chatd.roster import roster_routes
from chatd.seeker import seeker_endpoint
from chatd.services import Services
from chatd.sms_plugin import start_sms
from chatd.stats import stats_routes
from config.logging import get_logger
from config.settings import Settings
from peers.sessions import Sessions
from records import RecordsUnavailable, SchemaMode, open_records
from records.keyspace import Keys
from routing.engine import Engine, new_id
from routing.risk import RiskMatcher
from routing.worker import Worker

log = get_logger(__name__)
SHUTDOWN_CLOSE_S = 5.0

# Extra parts (the SMS bridge) plug in here: a hook run at start-up that may return a
# teardown run at shutdown (before the shared resources close).
Teardown = Callable[[], Awaitable[None]]
Plugin = Callable[[Services, "Worker | None"], Awaitable[Teardown | None]]


def _extra_routes(settings: Settings) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    try:
        from chatd.pages import page_routes
    except ImportError:
        pass
    else:
        routes.extend(page_routes(settings))
    from sms.bridge import sms_routes
    routes.extend(sms_routes(settings))
    return routes


class ChatdApp(Starlette):
    """Starlette, with chatd's two websocket endpoints called directly.

    A socket lives for minutes to hours; through Starlette's middleware stack and router it
    keeps ~4 KiB of suspended coroutine frames alive the whole time (measured with tracemalloc,
    docs/performance.md), for middleware that does nothing to websockets (GZip, the error
    pages). Every other request, and any other websocket path, goes through Starlette.
    """

    socket_endpoints: dict[str, Callable[[WebSocket], Awaitable[None]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            endpoint = self.socket_endpoints.get(scope["path"])
            if endpoint is not None:
                scope["app"] = self
                await endpoint(WebSocket(scope, receive=receive, send=send))
                return
        await super().__call__(scope, receive, send)


def freeze_startup_objects() -> None:
    """Collect once, then move every object alive (the modules, classes and functions loaded,
    the services) to the collector's permanent generation, which no collection looks at again:
    ``gc.freeze()`` (https://docs.python.org/3/library/gc.html#gc.freeze).

    A full collection walks every tracked object while the event loop waits. In a web process
    under bench figure 2's load, ~82,000 of the ~170,000 tracked objects were start-up's (Twilio's
    API modules, Starlette, redis-py), and the longest full collection went from 117 ms to
    31 ms with them frozen (docs/performance.md): a pause that long holds back every message
    and webhook that arrives during it. Objects made later (sockets, conversations) are
    collected as before. Frozen objects are never collected, so a process that builds and drops
    apps (a test session) must not do this.
    """
    gc.collect()
    gc.freeze()


def create_app(settings: Settings, redis_url: str | None, *, run_worker: bool, run_web: bool = True,
               schema: SchemaMode = "migrate", freeze_gc: bool = False) -> Starlette:
    """The app for ``serve`` (web and worker), ``web`` or ``worker`` (run_web False: ops routes only).

    ``redis_url``: the Redis to use (the embedded one's for ``serve``); None: the settings' own,
    ``CHATD_REDIS_SENTINELS`` or ``CHATD_REDIS_URL`` (chatd/redis_client.py). ``schema``: what
    its lifespan does with the database's schema (records.SchemaMode): ``serve`` migrates, ``web``
    and ``worker`` refuse a schema that is not theirs (SchemaMismatch). ``freeze_gc``: once
    started, take what start-up made out of the garbage collector's reach
    (:func:`freeze_startup_objects`); for a process that runs one app until it exits (the
    commands), not for one that starts many (the tests).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        redis = connect_redis(settings, redis_url)
        store = await open_records(settings.database, **settings.records_options, schema=schema)
        keys = Keys(settings.key_prefix)
        engine = Engine(redis, settings)
        hub = Hub(redis, [keys.ch_queue, keys.ch_sup, keys.ch_program])
        services = Services(
            settings=settings, redis=redis, store=store, engine=engine, hub=hub,
            sessions=Sessions(redis, keys, settings.secret_key, settings.session_ttl_s),
            risk=RiskMatcher.from_file(settings.risk_phrases), proc_id=new_id()[:12], keys=keys)
        services.program = ProgramCache(store)
        services.process_metrics = metrics.ProcessMetrics()
        app.state.services = services
        worker: Worker | None = None
        teardowns: list[Teardown] = []
        try:
            await hub.start()
            hub.add_base_subscriber(keys.ch_queue, fanout.QueueListener(services))
            hub.add_base_subscriber(keys.ch_sup, fanout.AlertListener(services))
            hub.add_base_subscriber(keys.ch_program, ProgramListener(services, services.program))
            if run_web:
                services.spawn(fanout.heartbeat(services), "heartbeat")
                services.spawn(fanout.queue_ticker(services), "queue-ticker")
                services.spawn(fanout.overview_loop(services), "overview")
            if run_worker:
                worker = Worker(engine, store, settings)
            app.state.worker = worker
            for plugin in app.state.plugins:
                teardown = await plugin(services, worker)
                if teardown is not None:
                    teardowns.append(teardown)
            if worker is not None:
                services.spawn(worker.run(), "worker")
            if freeze_gc:
                freeze_startup_objects()
            log.info("process.started", proc=services.proc_id, web=run_web, worker=run_worker)
            yield
        finally:
            # Every step runs even when one before it fails: the database and the Redis pool
            # are always closed, so nothing is left half open by a stop that went wrong.
            log.info("process.stopping", proc=services.proc_id)
            steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
                ("sockets", lambda: _close_sockets(services)),
                ("tasks", services.stop_tasks),
                *((f"plugin{i}", teardown) for i, teardown in enumerate(reversed(teardowns))),
                ("hub", hub.close),
                ("presence", lambda: _forget_process(services)),
                ("scripts", engine.scripts.aclose),
                ("store", store.close),
                ("redis", lambda: close_redis(redis)),
            ]
            for name, step in steps:
                try:
                    await step()
                except Exception as exc:
                    log.error("process.stop_step_failed", step=name, error=type(exc).__name__)

    routes: list[BaseRoute] = [
        Route("/healthz", ops.healthz),
        Route("/readyz", ops.readyz),
        Route("/metrics", metrics.metrics),
    ]
    if run_web:
        routes += [
            Route("/api/login", auth.login, methods=["POST"]),
            Route("/api/logout", auth.logout, methods=["POST"]),
            Route("/api/me", auth.me),
            *roster_routes(),
            *stats_routes(),
            *program_routes(),
            WebSocketRoute("/ws/seeker", seeker_endpoint),
            WebSocketRoute("/ws/peer", peer_endpoint),
            *_extra_routes(settings),
        ]
    # Pages and scripts compressed for poor phone connections (the chat window is ~56 KB raw,
    # ~17 KB gzipped); websockets are untouched by this middleware.
    app = ChatdApp(routes=routes, lifespan=lifespan, middleware=[Middleware(GZipMiddleware, minimum_size=1024)],
                   exception_handlers={RecordsUnavailable: _database_unavailable})
    if run_web:
        app.socket_endpoints = {"/ws/seeker": seeker_endpoint, "/ws/peer": peer_endpoint}
    app.state.plugins = [start_sms]
    app.state.settings = settings
    return app


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    """An HTTP request the database could not serve now (a login while PostgreSQL restarts, or
    SQLite locked past its timeout) is a 503 the client may retry, not a 500."""
    log.warning("http.database_unavailable", path=request.url.path)
    return JSONResponse({"error": "unavailable", "message": "briefly unavailable: try again in a moment"},
                        status_code=503)


async def _forget_process(services: Services) -> None:
    await services.redis.srem(services.keys.procs, services.proc_id)
    await services.redis.delete(services.keys.proc(services.proc_id))


async def _close_sockets(services: Services) -> None:
    """Graceful shutdown: tell every client to reconnect elsewhere (1012), then wait briefly
    for every socket's cleanup, also of sockets already closing (their detach is a script call:
    made after the scripts' sender and Redis are closed, it would open a connection that
    nothing closes).

    Closing starts each socket's grace timer, so seekers and peers resume on another process.
    """
    conns = list(services.connections)
    for conn in conns:
        conn.close(1012, "service restart")
    if conns:
        waiters = [asyncio.ensure_future(c.wait_done()) for c in conns]
        _, pending = await asyncio.wait(waiters, timeout=SHUTDOWN_CLOSE_S)
        for waiter in pending:
            waiter.cancel()
