"""A real PostgreSQL server for the tests: Debian's ``postgresql`` package, initialised into a
temporary directory, listening on a free port of 127.0.0.1 (and a unix socket in that
directory), with a fresh database per test.

PostgreSQL refuses to run as root, and CI runs as root: then initdb and postgres run as the
``postgres`` system user the package creates, in a directory it owns under the system's
temporary directory (pytest's own, /tmp/pytest-of-root, is closed to other users).

Missing binaries fail the tests that need them with a message saying what to install: a
skipped PostgreSQL test would pass CI without testing anything.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

INSTALL_HINT = "install Debian's PostgreSQL: apt-get install -y postgresql"
RUN_AS = "postgres"  # the system user Debian's package creates


def postgres_bindir() -> Path | None:
    """The bin directory of the newest PostgreSQL installed (/usr/lib/postgresql/<version>/bin),
    or of ``initdb`` on PATH; None when there is none."""
    found = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if (Path(p) / "postgres").exists()]
    numbered = [p for p in found if re.fullmatch(r"\d+(\.\d+)?", p.parent.name)]
    if numbered:
        return max(numbered, key=lambda p: float(p.parent.name))
    on_path = shutil.which("initdb")
    if on_path is not None and (Path(on_path).parent / "postgres").exists():
        return Path(on_path).parent
    return None


def find_bindir() -> Path:
    """:func:`postgres_bindir`, or fail the test (not a skip) when there is none."""
    found = postgres_bindir()
    if found is None:
        pytest.fail(f"PostgreSQL's binaries (initdb, postgres) were not found: {INSTALL_HINT}")
    return found


def needs_postgres(item: pytest.Item) -> bool:
    """Whether a collected test runs against the PostgreSQL server: it asks for its fixtures,
    or is the ``postgresql`` case of a test parametrized over the databases."""
    if {"postgres", "postgres_url", "shared_database"} & set(getattr(item, "fixturenames", ())):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "postgresql" in callspec.params.values()


class PostgresServer:
    """One PostgreSQL server child process: ``start``, ``stop`` (fast shutdown, or SIGKILL)
    and start again on the same port and data; ``destroy`` stops it and removes its files."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        # Under the system's temporary directory: its parents are open to every user.
        self.dir = Path(tempfile.mkdtemp(prefix="chatd-pg-", dir="/tmp" if self.as_root else None))
        self.data = self.dir / "data"
        self.proc: subprocess.Popen[bytes] | None = None
        self.superuser = RUN_AS if self.as_root else pwd.getpwuid(os.geteuid()).pw_name
        if self.as_root:
            try:
                entry = pwd.getpwnam(RUN_AS)
            except KeyError:
                pytest.fail(f"running as root, and there is no '{RUN_AS}' user to run PostgreSQL as: {INSTALL_HINT}")
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self._run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.superuser, "--auth=trust",
                   "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"])

    def _user(self) -> dict[str, Any]:
        return {"user": RUN_AS, "group": RUN_AS} if self.as_root else {}

    def _run(self, args: list[str]) -> None:
        done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=120, **self._user())
        if done.returncode != 0:
            pytest.fail(f"{args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, database: str) -> str:
        return f"postgresql://{self.superuser}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server (again, after ``stop``: same port, same data) and wait until it
        accepts connections."""
        log = open(self.dir / "server.log", "ab")  # noqa: SIM115 - handed to the child process
        self.proc = subprocess.Popen(
            [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port), "-h", "127.0.0.1",
             "-k", str(self.dir), "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=200", "-c", "shared_buffers=32MB", "-c", "autovacuum=off"],
            stdout=log, stderr=log, **self._user())
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"postgres exited at start: {(self.dir / 'server.log').read_text()[-2000:]}")
            done = subprocess.run([str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port),
                                   "-t", "1"], capture_output=True, check=False)
            if done.returncode == 0:
                return
            time.sleep(0.05)
        pytest.fail("postgres did not accept connections within 30 s")

    def stop(self, *, kill: bool = False) -> None:
        """Fast shutdown (SIGINT: sessions are ended, the server exits cleanly), or SIGKILL of
        the postmaster and its children (a crash: the next start recovers from the WAL)."""
        if self.proc is None:
            return
        if kill:
            # The backends are the postmaster's children; killing only it would leave them serving.
            children = _children(self.proc.pid)
            self.proc.kill()
            for child in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
        else:
            self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)
        self.proc = None
        if kill:
            # A killed postmaster leaves its pid file; its shared memory goes with its children.
            (self.data / "postmaster.pid").unlink(missing_ok=True)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _port_open(self.port):
                time.sleep(0.05)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    async def create_database(self) -> str:
        """A new, empty database; its URL."""
        name = "t_" + uuid.uuid4().hex[:16]
        conn = await asyncpg.connect(self.admin_url)
        try:
            # FILE_COPY (PostgreSQL 15+) copies the template's files instead of logging every
            # page of them: half the time of the default, for a database per test.
            strategy = " STRATEGY FILE_COPY" if conn.get_server_version().major >= 15 else ""
            await conn.execute(f'CREATE DATABASE "{name}"{strategy}')
        finally:
            await conn.close()
        return self.url(name)

    async def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def _children(pid: int) -> list[int]:
    """The pids of ``pid``'s child processes, read from /proc (no procps needed)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # "pid (comm) state ppid …": comm may hold spaces, so split after its ")".
            if int(stat.read_text().rpartition(")")[2].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A started server, destroyed (stopped, files removed) however the block ends."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session (each test takes a database of its own)."""
    with postgres_server() as server:
        yield server


@pytest.fixture
async def postgres_url(postgres: PostgresServer) -> AsyncIterator[str]:
    """The URL of a new, empty database on the session's server, dropped after the test."""
    url = await postgres.create_database()
    try:
        yield url
    finally:
        await postgres.drop_database(url)
