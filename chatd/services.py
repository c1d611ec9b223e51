"""The long-lived resources of one process, started in the lifespan and handed to handlers."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from chatd.hub import Hub
from config.logging import get_logger
from config.settings import Settings
from peers.sessions import Sessions
from records import Records
from records.keyspace import Keys
from routing.engine import Engine
from routing.risk import RiskMatcher

if TYPE_CHECKING:
    from chatd.connection import Connection
    from chatd.peer import PeerConnection
    from chatd.seeker import SeekerConnection

log = get_logger(__name__)
STOP_WAIT_S = 1.0
STOP_TRIES = 5


@dataclass
class Services:
    settings: Settings
    redis: Redis
    store: Records
    engine: Engine
    hub: Hub
    sessions: Sessions
    risk: RiskMatcher
    proc_id: str
    keys: Keys
    seekers: set[SeekerConnection] = field(default_factory=set)
    peers: set[PeerConnection] = field(default_factory=set)
    # Every socket from its start until its cleanup has finished (seekers and peers leave their
    # sets when cleanup begins): shutdown waits for these before it closes Redis.
    connections: set[Connection] = field(default_factory=set)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    queue_dirty: asyncio.Event = field(default_factory=asyncio.Event)
    sms: Any = None  # the SMS bridge (sms/bridge.py), set at start-up
    sms_simulator: Any = None  # the phone simulator, when no Twilio account is configured
    program: Any = None  # the hours and canned responses cached here (chatd/program.py ProgramCache)
    process_metrics: Any = None  # this process's own measurements (chatd/metrics.py ProcessMetrics)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A process-level background task, owned here: cancelled and awaited at shutdown."""
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def stop_tasks(self) -> None:
        await stop_all(list(self.tasks))

    def supervisors(self) -> list[PeerConnection]:
        return [p for p in self.peers if p.supporter.is_supervisor]


async def stop_all(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel every task and wait for it. On Python 3.11 a cancellation that lands just as an
    ``asyncio.timeout`` inside redis-py expires is turned into TimeoutError and lost: the task
    (a worker loop) carries on, and a shutdown waiting for it would wait forever (seen in the
    tests: 15 s, then the server's stop timed out and leaked its sockets). So a task still
    running after ``STOP_WAIT_S`` is cancelled again, up to ``STOP_TRIES`` times."""
    for _ in range(STOP_TRIES):
        pending = [task for task in tasks if not task.done()]
        if not pending:
            break
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=STOP_WAIT_S)
    for task in tasks:
        if not task.done():
            log.error("process.task_would_not_stop", task=task.get_name())
        elif not task.cancelled() and task.exception() is not None:
            log.warning("process.task_failed", task=task.get_name(), error=type(task.exception()).__name__)
