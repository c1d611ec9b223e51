"""The long-lived resources of one process, started in the lifespan and handed to handlers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from chatd.hub import Hub
from chatd.store import Store
from config.logging import get_logger
from config.settings import Settings
from peers.sessions import Sessions
from routing.engine import Engine
from routing.keys import Keys
from routing.risk import RiskMatcher

if TYPE_CHECKING:
    from chatd.peer import PeerConnection
    from chatd.seeker import SeekerConnection

log = get_logger(__name__)


@dataclass
class Services:
    settings: Settings
    redis: Redis
    store: Store
    engine: Engine
    hub: Hub
    sessions: Sessions
    risk: RiskMatcher
    proc_id: str
    keys: Keys
    seekers: set[SeekerConnection] = field(default_factory=set)
    peers: set[PeerConnection] = field(default_factory=set)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    queue_dirty: asyncio.Event = field(default_factory=asyncio.Event)
    sms: Any = None  # the SMS bridge (sms/bridge.py), set at start-up
    sms_simulator: Any = None  # the phone simulator, when no Twilio account is configured

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A process-level background task, owned here: cancelled and awaited at shutdown."""
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def stop_tasks(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def supervisors(self) -> list[PeerConnection]:
        return [p for p in self.peers if p.supporter.is_supervisor]
