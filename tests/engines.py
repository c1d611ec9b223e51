"""The real engines the tests start and stop themselves: Redis servers, and a Redis primary with a
replica watched by three Sentinels (the deployment of CONTRACT.md section 8), each on a free
port in its own directory. Never a fake.

Sentinel timing is short here (the primary is thought down after ``DOWN_AFTER_MS``, a failover is
retried after twice ``FAILOVER_TIMEOUT_MS``) so a failover takes a few seconds, not a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from chatd.embedded_redis import find_redis_server
from tests.helpers import t

DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 3000
MASTER_NAME = "chatd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(proc: subprocess.Popen[bytes], port: int, what: str) -> None:
    deadline = time.monotonic() + t(10)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited at start (code {proc.returncode})")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start")


class RedisServer:
    """A real redis-server child process on a free port, AOF on (as production promises).

    ``args`` are extra options (``--replicaof HOST PORT`` for a replica). :meth:`start` again
    after :meth:`stop` restarts it on the same port and directory, as a supervisor would.
    """

    def __init__(self, directory: Path, args: Sequence[str] = ()) -> None:
        self.dir = directory
        self.port = free_port()
        self.args = list(args)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [find_redis_server(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--loglevel", "notice",
             # A replica syncs at once, not after the default 5 s wait for others to join in.
             "--repl-diskless-sync-delay", "0",
             "--logfile", str(self.dir / "redis.log"), *self.args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.proc, self.port, "redis-server")

    def stop(self, kill: bool = False) -> None:
        if self.proc is not None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def client(self) -> Redis:
        """A short-lived client of this very server (not through the Sentinels); close it."""
        return Redis(host="127.0.0.1", port=self.port, decode_responses=True, socket_timeout=t(5))


class SentinelServer:
    """``redis-server <generated config> --sentinel`` on a free port, watching ``primary_port``
    under the service name ``MASTER_NAME`` with a quorum of 2."""

    def __init__(self, directory: Path, primary_port: int) -> None:
        self.dir = directory
        self.port = free_port()
        self.primary_port = primary_port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "sentinel.conf"  # Sentinel rewrites it as it learns: it must be writable
        conf.write_text("\n".join([
            f"port {self.port}", "bind 127.0.0.1", f'dir "{self.dir}"', f'logfile "{self.dir / "sentinel.log"}"',
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.primary_port} 2",
            f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}",
            f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}",
            f"sentinel parallel-syncs {MASTER_NAME} 1", ""]), encoding="utf-8")
        self.proc = subprocess.Popen([find_redis_server(), str(conf), "--sentinel"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.proc, self.port, "redis-server --sentinel")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def client(self) -> Redis:
        return Redis(host="127.0.0.1", port=self.port, decode_responses=True, socket_timeout=t(2))


class SentinelCluster:
    """A Redis primary, one replica and three Sentinels, on free ports under ``directory``.

    After :meth:`start` the replica is in sync and every Sentinel knows the primary, the replica
    and the two other Sentinels, so a failover can happen. :meth:`stop` stops whatever runs.
    ``min_replicas_to_write``: each data node's setting of that name (docs/operations.md: a
    primary cut off from its replicas refuses writes instead of taking ones a failover drops).
    """

    def __init__(self, directory: Path, *, min_replicas_to_write: int = 0) -> None:
        self.dir = directory
        guard = ["--min-replicas-to-write", str(min_replicas_to_write), "--min-replicas-max-lag", "5"]
        primary = RedisServer(directory / "redis-a", guard)
        replica = RedisServer(directory / "redis-b", [*guard, "--replicaof", "127.0.0.1", str(primary.port)])
        self.nodes = [primary, replica]
        self.sentinels = [SentinelServer(directory / f"sentinel-{i}", primary.port) for i in range(3)]

    @property
    def sentinel_setting(self) -> str:
        """The value of ``CHATD_REDIS_SENTINELS`` for this cluster."""
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    def node(self, port: int) -> RedisServer:
        return next(n for n in self.nodes if n.port == port)

    async def start(self) -> None:
        for node in self.nodes:
            node.start()
        await self.wait_replicas(self.nodes[0].port, 1)
        for sentinel in self.sentinels:
            sentinel.start()
        await self._wait_until(self._sentinels_know_everyone, "the Sentinels never found each other")

    def stop(self) -> None:
        for server in [*self.sentinels, *self.nodes]:
            with contextlib.suppress(Exception):
                server.stop()

    async def primary(self) -> RedisServer:
        """The node the Sentinels name as primary now (the first Sentinel that answers)."""
        return self.node(await self._primary_port())

    async def wait_promotion(self, old: RedisServer, timeout_s: float = 30) -> tuple[RedisServer, float]:
        """Until a Sentinel names a primary other than ``old`` (a client asking then is sent to the
        new one): that node, and when (monotonic)."""
        deadline = time.monotonic() + t(timeout_s)
        while time.monotonic() < deadline:
            for sentinel in self.sentinels:
                port = await self._ask(sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)
                if port is not None and port != old.port:
                    return self.node(port), time.monotonic()
            await asyncio.sleep(0.05)
        raise AssertionError(f"no promotion after the primary on {old.port} went")

    async def wait_replicas(self, primary_port: int, count: int, timeout_s: float = 30) -> None:
        """Until the primary on ``primary_port`` has ``count`` replicas online and caught up."""
        async def synced() -> bool:
            client = self.node(primary_port).client()
            try:
                info: dict[str, Any] = await client.info("replication")
            finally:
                await client.aclose()
            replicas = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
            offset = int(info.get("master_repl_offset", 0))
            return sum(1 for r in replicas if r.get("state") == "online" and int(r.get("offset", -1)) >= offset) \
                >= count
        await self._wait_until(synced, f"the primary on {primary_port} never had {count} replica(s) in sync",
                               timeout_s)

    async def _primary_port(self) -> int:
        for sentinel in self.sentinels:
            if sentinel.proc is not None:
                port = await self._ask(sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)
                if port is not None:
                    return port
        raise RuntimeError("no Sentinel names a primary")

    async def _ask(self, sentinel: SentinelServer, *command: str) -> int | None:
        client = sentinel.client()
        try:
            reply = await client.execute_command(*command)
        except (RedisError, OSError):
            return None
        finally:
            await client.aclose()
        return int(reply[1]) if reply else None

    async def _sentinels_know_everyone(self) -> bool:
        for sentinel in self.sentinels:
            client = sentinel.client()
            try:
                state = await client.sentinel_master(MASTER_NAME)
            finally:
                await client.aclose()
            if int(state["num-slaves"]) < 1 or int(state["num-other-sentinels"]) < 2:
                return False
        return True

    async def _wait_until(self, check: Any, failure: str, timeout_s: float = 30, every_s: float = 0.2) -> None:
        deadline = time.monotonic() + t(timeout_s)
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if await check():
                    return
            await asyncio.sleep(every_s)
        raise AssertionError(failure)
