"""Fixtures: a real Redis server (and a Sentinel-watched primary and replica, tests/engines.py),
real chatd servers on real sockets, a real SQLite file, and a real PostgreSQL server
(tests/postgres.py)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import shutil
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets

from chatd.app import create_app
from chatd.redis_client import close_redis
from chatd.services import Services
from config.logging import configure_logging
from config.settings import Settings
from peers import accounts
from tests.engines import RedisServer, SentinelCluster
from tests.engines import free_port as free_port  # where the tests have always imported it from
from tests.helpers import WS, t
from tests.postgres import INSTALL_HINT, needs_postgres, postgres, postgres_bindir, postgres_url  # noqa: F401 - fixtures for every test module

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@contextlib.asynccontextmanager
async def _cluster(directory: Path, min_replicas_to_write: int) -> AsyncIterator[SentinelCluster]:
    cluster = SentinelCluster(directory, min_replicas_to_write=min_replicas_to_write)
    try:
        await cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def sentinel_cluster(tmp_path: Path) -> AsyncIterator[SentinelCluster]:
    """A Redis primary, one replica and three Sentinels of this test's own (tests/engines.py)."""
    async with _cluster(tmp_path / "cluster", 0) as cluster:
        yield cluster


@pytest.fixture
async def guarded_sentinel_cluster(tmp_path: Path) -> AsyncIterator[SentinelCluster]:
    """The same, each data node with ``min-replicas-to-write 1`` as docs/operations.md advises for
    ``CHATD_REDIS_MIN_REPLICAS=1``: a primary without its replica refuses writes."""
    async with _cluster(tmp_path / "cluster", 1) as cluster:
        yield cluster


@pytest.fixture
def shared_database(request: pytest.FixtureRequest) -> str:
    """``CHATD_DATABASE`` for processes that share nothing but the database and Redis, as on
    separate machines (contract section 8): a new database on the tests' PostgreSQL server."""
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session", autouse=True)
def _logging() -> None:
    configure_logging("console", "warning")


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    """Collect garbage after each test, so a socket or client a test leaves open is reported
    (ResourceWarning, an error here) in that test, not at random in a later one."""
    yield
    gc.collect()


@pytest.fixture
def base_settings(tmp_path: Path) -> Settings:
    """Settings for one test: its own key prefix (isolation in the shared Redis) and SQLite file."""
    return Settings(
        data_dir=tmp_path, database=tmp_path / "chatd.sqlite3", secret_key="test-secret-" + uuid.uuid4().hex,
        key_prefix="t" + uuid.uuid4().hex[:12], offer_timeout_s=t(30), wait_escalate_s=t(300),
        seeker_grace_s=t(120), peer_grace_s=t(60), debrief_s=0, log_format="console", demo_account=False,
    )


@dataclass
class Running:
    """One chatd server (a 'web process', with or without the worker) on a real port."""

    settings: Settings
    app: Any
    server: uvicorn.Server
    task: asyncio.Task[None]

    @property
    def url(self) -> str:
        return self.settings.public_url

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, t(15))


@dataclass
class Harness:
    redis_server: RedisServer
    settings: Settings
    servers: list[Running] = field(default_factory=list)
    sockets: list[WS] = field(default_factory=list)

    async def start(self, *, worker: bool = True, web: bool = True, redis_url: str | None = None,
                    **overrides: Any) -> Running:
        """Start a chatd server sharing this test's Redis prefix and SQLite file (through
        ``redis_url`` when given: a proxy to the same Redis)."""
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        settings = self.settings.with_changes(port=port, public_url=f"http://127.0.0.1:{port}", **overrides)
        app = create_app(settings, redis_url or self.redis_server.url, run_worker=worker, run_web=web)
        # A bounded graceful shutdown, as `chatd web` has: without it a stop could wait for a
        # connection forever, the stop timed out, and the app's Redis and sockets leaked.
        config = uvicorn.Config(app, ws_max_size=64 * 1024, ws_per_message_deflate=False, log_config=None,
                                lifespan="on", access_log=False, timeout_graceful_shutdown=t(5))
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        deadline = time.monotonic() + t(10)
        while not server.started:
            if task.done():
                task.result()
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            await asyncio.sleep(0.02)
        running = Running(settings, app, server, task)
        self.servers.append(running)
        return running

    async def add_peer(self, username: str, *, role: str = "peer", trained: bool = True,
                       display: str | None = None, server: Running | None = None,
                       languages: tuple[str, ...] = ("en", "fr")) -> None:
        store = (server or self.servers[0]).services.store
        await accounts.create(store, username, display or username.title(), role, trained, PASSWORD, languages)

    async def login(self, username: str, server: Running | None = None, password: str = PASSWORD) -> str:
        srv = server or self.servers[0]
        async with httpx.AsyncClient(base_url=srv.url) as http:
            r = await http.post("/api/login", json={"username": username, "password": password},
                                headers={"Origin": srv.url})
            assert r.status_code == 200, r.text
            cookie = r.cookies.get("chatd_session")
            assert cookie
            return cookie

    async def connect(self, path: str, server: Running | None = None, **kwargs: Any) -> WS:
        srv = server or self.servers[0]
        conn = await websockets.connect(srv.ws_url + path, max_size=2**22, **kwargs)
        ws = WS(conn)
        self.sockets.append(ws)
        return ws

    async def peer(self, username: str, *, capacity: int | None = None, server: Running | None = None,
                   cookie: str | None = None) -> WS:
        """A logged-in console socket; with a capacity, already on shift."""
        srv = server or self.servers[0]
        cookie = cookie or await self.login(username, srv)
        ws = await self.connect("/ws/peer", srv, origin=srv.url,  # type: ignore[arg-type]
                                additional_headers={"Cookie": f"chatd_session={cookie}"})
        if capacity is not None:
            await ws.send(type="shift", action="start", capacity=capacity)
            await ws.next("shift", state="on")
        return ws

    async def seeker(self, lang: str = "en", server: Running | None = None) -> tuple[WS, dict[str, Any]]:
        """A seeker socket that said hello; returns it and the welcome frame."""
        ws = await self.connect("/ws/seeker", server)
        await ws.send(type="hello", lang=lang)
        return ws, await ws.next("welcome")

    async def close(self) -> None:
        for ws in self.sockets:
            with contextlib.suppress(Exception):
                await ws.close()
        for srv in reversed(self.servers):
            try:
                await srv.stop()
            except Exception:
                # A stop that timed out cancelled the app before its lifespan closed what it
                # opened: close it here, or the store's thread keeps pytest from ever exiting.
                services = srv.app.state.services
                with contextlib.suppress(Exception):
                    await services.store.close()
                with contextlib.suppress(Exception):
                    await close_redis(services.redis)


@pytest.fixture
async def harness(redis_server: RedisServer, base_settings: Settings) -> AsyncIterator[Harness]:
    h = Harness(redis_server, base_settings)
    try:
        yield h
    finally:
        await h.close()


def chromium_path() -> str | None:
    return shutil.which("chromium") or (None if not Path("/usr/bin/chromium").exists() else "/usr/bin/chromium")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without PostgreSQL on a developer's machine, its tests are skipped and the session ends
    with a loud line (as ./dev does for Chromium); under CI=true they run, and fail with the
    install hint if it is missing (.ci/run installs it)."""
    if os.environ.get("CI") == "true" or postgres_bindir() is not None:
        return
    skip = pytest.mark.skip(reason=f"PostgreSQL is not installed here ({INSTALL_HINT}); CI runs this test")
    for item in items:
        if needs_postgres(item):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if os.environ.get("CI") != "true" and postgres_bindir() is None:
        terminalreporter.write_sep("!", "THE POSTGRESQL TESTS DID NOT RUN: " + INSTALL_HINT, red=True, bold=True)
