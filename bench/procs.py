"""Processes of one benchmark phase: Redis, chatd, baselines and load generators.

Every process is started here, owned by a :class:`Procs` group and stopped (SIGTERM, then
SIGKILL) when the group closes, so an interrupted or failed run leaves nothing behind.
Servers and load generators can be pinned to different cores with ``taskset``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class BenchError(RuntimeError):
    """Something the bench needs did not work: a figure cannot be measured."""


def raise_fd_limit() -> int:
    """Raise the soft open-files limit to the hard one (children inherit it); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise BenchError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used, in seconds, from /proc/PID/stat (Linux; fields
    14 and 15, in clock ticks: proc(5))."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Pinning:
    """Which cores servers and load generators run on (``None``: no pinning)."""

    servers: str | None
    loadgens: str | None

    @classmethod
    def choose(cls, enabled: bool) -> Pinning:
        cpus = sorted(os.sched_getaffinity(0))
        if not enabled or len(cpus) < 2 or shutil.which("taskset") is None:
            return cls(None, None)
        half = len(cpus) // 2
        return cls(",".join(map(str, cpus[:half])), ",".join(map(str, cpus[half:])))

    @staticmethod
    def prefix(cpus: str | None) -> list[str]:
        return ["taskset", "-c", cpus] if cpus else []


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any CHATD_/TWILIO_ setting of the caller's, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATD_", "TWILIO_"))}
    env.update(extra)
    return env


@dataclass
class Procs:
    """A group of processes started for one phase, stopped together."""

    workdir: Path
    pinning: Pinning
    redis_unix: bool = False  # start_redis: every process of the phase reaches Redis on a Unix socket
    procs: list[tuple[str, asyncio.subprocess.Process]] = field(default_factory=list)
    servers: dict[str, int] = field(default_factory=dict)  # name -> pid of each server process
    # Stopped last, after everything that talks to it (else chatd logs Redis errors on the way out).
    backend: set[int] = field(default_factory=set)

    async def start(self, name: str, argv: list[str], *, server: bool, env: dict[str, str] | None = None,
                    pipes: bool = False, backend: bool = False) -> asyncio.subprocess.Process:
        cpus = self.pinning.servers if server else self.pinning.loadgens
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        try:
            proc = await asyncio.create_subprocess_exec(
                *Pinning.prefix(cpus), *argv, env=env or clean_env(),
                stdin=asyncio.subprocess.PIPE if pipes else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE if pipes else log, stderr=log,
                limit=64 * 1024 * 1024)
        finally:
            log.close()
        self.procs.append((name, proc))
        if server:
            self.servers[name] = proc.pid
        if backend:
            self.backend.add(proc.pid)
        return proc

    async def python(self, name: str, module: str, *args: str, server: bool, env: dict[str, str] | None = None,
                     pipes: bool = False) -> asyncio.subprocess.Process:
        return await self.start(name, [sys.executable, "-m", module, *args], server=server, env=env, pipes=pipes)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system, seconds) each server process of the phase has used so far."""
        return {name: cpu_seconds(pid) for name, pid in self.servers.items()}

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.returncode is not None:
                raise BenchError(f"{name} exited with {proc.returncode}; see {self.workdir / (name + '.log')}")

    async def close(self) -> None:
        """Stop load generators and servers, then the backend (Redis); SIGKILL what lingers."""
        front = [p for _, p in self.procs if p.pid not in self.backend]
        back = [p for _, p in self.procs if p.pid in self.backend]
        for group in (front, back):
            for proc in group:
                if proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.send_signal(signal.SIGTERM)
            for proc in group:
                try:
                    await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
        self.procs.clear()
        self.backend.clear()

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.workdir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


async def start_redis(procs: Procs) -> str:
    """A throwaway Redis on a free port, no persistence; returns its URL once it answers.

    With ``procs.redis_unix`` it also listens on a Unix socket, and the URL is that socket's:
    every server of the phase (chatd, a baseline, a peer) then reaches Redis the same way.
    """
    port = free_port()
    sock = procs.workdir / "redis.sock"
    unix = ["--unixsocket", str(sock), "--unixsocketperm", "700"] if procs.redis_unix else []
    await procs.start("redis", [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--daemonize", "no", "--maxclients", "20000",
                                "--dir", str(procs.workdir), *unix], server=True, backend=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if procs.redis_unix:
                reader, writer = await asyncio.open_unix_connection(str(sock))
            else:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"PING\r\n")
            await writer.drain()
            reply = await reader.readline()
            writer.close()
            if reply.startswith(b"+PONG"):
                return f"unix://{sock}?db=0" if procs.redis_unix else f"redis://127.0.0.1:{port}/0"
        except OSError:
            pass
        procs.check_alive()
        await asyncio.sleep(0.05)
    raise BenchError("redis-server did not start")


async def wait_http(url: str, procs: Procs) -> None:
    """Wait until ``url`` answers (any status below 500)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            try:
                response = await client.get(url)
                if response.status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            procs.check_alive()
            await asyncio.sleep(0.1)
    raise BenchError(f"{url} did not answer in {START_TIMEOUT_S} s")


async def wait_port(port: int, procs: Procs) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            procs.check_alive()
            await asyncio.sleep(0.05)
    raise BenchError(f"nothing listens on port {port}")


class Loadgen:
    """A load generator process driven by JSON lines on its stdin (see loadgen.py)."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, procs: Procs) -> None:
        self.name, self.proc, self.procs = name, proc, procs

    @classmethod
    async def start(cls, procs: Procs, name: str) -> Loadgen:
        proc = await procs.python(name, "bench.loadgen", server=False, pipes=True)
        return cls(name, proc, procs)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def call(self, timeout_s: float, **command: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(command).encode() + b"\n")
        await self.proc.stdin.drain()
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout_s)
        except TimeoutError:
            raise BenchError(f"{self.name}: {command['op']} took over {timeout_s:.0f} s") from None
        if not line:
            raise BenchError(f"{self.name} died during {command['op']}:\n{self.procs.log_tail(self.name)}")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise BenchError(f"{self.name}: {command['op']} failed: {reply['error']}")
        return reply
