"""What chatd's own phases run chatd against: ``--deployment``.

``single`` (the default): the SQLite file in the phase's data directory and one throwaway Redis
(``procs.start_redis``), as every other figure. ``sentinel-postgresql``: one PostgreSQL server for
the whole bench run with a fresh database per phase, and per phase a fresh Redis primary, its
replica and three Sentinels in the phase's directory, chatd acknowledging a message only once the
replica has it (``CHATD_REDIS_MIN_REPLICAS=1``: a ``WAIT`` per batch, docs/operations.md).
Baselines and peers keep their single Redis in both.

The engines are the tests' own (tests/engines.py, tests/postgres.py), imported rather than
copied: the bench then measures chatd on the very Sentinel and PostgreSQL setups the failover and
PostgreSQL tests start and check, and the two cannot drift apart.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench.procs import BenchError, Procs, start_redis

if TYPE_CHECKING:
    from tests.postgres import PostgresServer

DEPLOYMENTS = ("single", "sentinel-postgresql")
MIN_REPLICAS = 1


@dataclass
class Backing:
    """One phase's Redis and database for chatd: the Redis URL to give it, the database (a SQLite
    path or a PostgreSQL URL) and any other settings."""

    redis_url: str
    database: Path | str
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def sqlite(cls, procs: Procs, redis_url: str) -> Backing:
        """The ``single`` deployment's: the SQLite file in the phase's data directory."""
        return cls(redis_url, procs.workdir / "data" / "chatd.sqlite3")


class Deployment:
    """The ``--deployment`` of a bench run: :meth:`backing` per chatd phase, :meth:`close` at the end."""

    def __init__(self, name: str) -> None:
        if name not in DEPLOYMENTS:
            raise BenchError(f"unknown deployment {name!r}: one of {', '.join(DEPLOYMENTS)}")
        self.name = name
        self._postgres: PostgresServer | None = None

    def describe(self) -> str:
        """One line for the results file and the printout."""
        if self.name == "single":
            return "single: chatd on SQLite and one Redis (no persistence)"
        return (f"sentinel-postgresql: chatd on PostgreSQL (test server: fsync=off, synchronous_commit=off) and "
                f"Redis through 3 Sentinels, primary + 1 replica on this machine, AOF off, "
                f"CHATD_REDIS_MIN_REPLICAS={MIN_REPLICAS}")

    def start(self) -> None:
        """Start the run's PostgreSQL server (``sentinel-postgresql`` only)."""
        if self.name == "single":
            return
        import pytest

        from tests.postgres import PostgresServer

        try:
            self._postgres = PostgresServer()
            self._postgres.start()
        except pytest.fail.Exception as exc:
            self.close()
            raise BenchError(f"PostgreSQL: {exc}") from None

    def close(self) -> None:
        """Stop the run's PostgreSQL server and remove its files."""
        if self._postgres is not None:
            self._postgres.destroy()
            self._postgres = None

    @contextlib.asynccontextmanager
    async def backing(self, procs: Procs) -> AsyncIterator[Backing]:
        """This phase's Redis and database; with Sentinels, chatd's processes (``procs``) are
        stopped before the cluster and the database go."""
        if self._postgres is None:
            yield Backing.sqlite(procs, await start_redis(procs))
            return
        from tests.engines import MASTER_NAME, SentinelCluster

        cluster = SentinelCluster(procs.workdir / "sentinel", min_replicas_to_write=MIN_REPLICAS)
        for node in cluster.nodes:
            # As the bench's single Redis: no AOF (the tests' nodes fsync every write), so the
            # difference measured is the replica's WAIT, not the disk.
            node.args += ["--appendonly", "no"]
        url = ""
        try:
            await cluster.start()
            url = await self._postgres.create_database()
            yield Backing("redis://127.0.0.1/0", url, {
                "CHATD_REDIS_SENTINELS": cluster.sentinel_setting, "CHATD_REDIS_MASTER": MASTER_NAME,
                "CHATD_REDIS_MIN_REPLICAS": str(MIN_REPLICAS), "CHATD_DATABASE": url})
        finally:
            await procs.close()
            cluster.stop()
            if url:
                await self._postgres.drop_database(url)
