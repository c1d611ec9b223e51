"""Process-level fan-out: queue status to waiting seekers and peers, alerts and an overview to
supervisors, and this process's presence heartbeat.

Queue changes arrive as events on ``P:ev:queue``; the ticker answers them at most once a second
(contract), recomputing positions for this process's waiting seekers in one pipeline.
"""

from __future__ import annotations

import asyncio
import time

from chatd.services import Services
from config.cancellation import raise_if_cancelling
from config.logging import get_logger
from records import replies
from routing import envelope, frames
from routing.engine import ConvInfo
from routing.states import ConvState

log = get_logger(__name__)
TICK_S = 1.0
HEARTBEAT_S = 3.0
HEARTBEAT_TTL_S = 10
OVERVIEW_EVERY_S = 2.0
OVERVIEW_LIMIT = 200


class QueueListener:
    """Subscriber on the queue channel: marks the ticker dirty."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def deliver(self, channel: str, data: str) -> None:
        self.services.queue_dirty.set()

    def resync(self) -> None:
        self.services.queue_dirty.set()


class AlertListener:
    """Subscriber on the supervisors' channel: alerts to this process's supervisors on shift."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def deliver(self, channel: str, data: str) -> None:
        frame = envelope.unpack(data).frame
        for sup in self.services.supervisors():
            sup.alert(frame)

    def resync(self) -> None:
        pass


async def queue_ticker(services: Services) -> None:
    """Send changed queue figures to local sockets, at most once a second."""
    while True:
        try:
            await services.queue_dirty.wait()
            services.queue_dirty.clear()
            await _tick(services)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise_if_cancelling()
            log.warning("ticker.failed", error=type(exc).__name__)
        await asyncio.sleep(TICK_S)


async def _tick(services: Services) -> None:
    waiting_conns = [c for c in services.seekers if c.waiting and c.conv is not None]
    convs = [c.conv for c in waiting_conns if c.conv is not None]
    positions, peers_on = await services.engine.positions(convs)
    estimates = await services.engine.wait_estimates(positions, peers_on) if convs else []
    for conn, position, est in zip(waiting_conns, positions, estimates, strict=True):
        if position is None:
            continue
        status = (position, peers_on, est)
        if status != conn.last_status:
            conn.last_status = status
            conn.send(frames.encode(frames.StatusWaiting(position=position, peers_on_shift=peers_on, estimate=est)))
    if services.peers:
        waiting, on = await services.engine.queue_counts()
        for peer in list(services.peers):
            if peer.last_queue != (waiting, on):
                peer.last_queue = (waiting, on)
                peer.send(frames.encode(frames.Queue(waiting=waiting, peers_on_shift=on)))


async def overview_loop(services: Services) -> None:
    """Every few seconds, while a supervisor is connected here: peers, queue and live conversations."""
    while True:
        await asyncio.sleep(OVERVIEW_EVERY_S)
        sups = services.supervisors()
        if not sups:
            continue
        try:
            frame = await build_overview(services)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise_if_cancelling()
            log.warning("overview.failed", error=type(exc).__name__)
            continue
        for sup in sups:
            sup.send(frame)


async def build_overview(services: Services) -> str:
    k, redis = services.keys, services.redis
    peers = sorted(replies.texts(await redis.smembers(k.shifting)))
    live = sorted(replies.texts(await redis.smembers(k.live)))[:OVERVIEW_LIMIT]
    async with redis.pipeline(transaction=False) as pipe:
        for p in peers:
            pipe.hmget(k.peer(p), ["state", "capacity", "active", "display"])
        pipe.zcard(k.queue)
        results = await pipe.execute()
    infos = await services.engine.infos(live)
    now_ms = int(time.time() * 1000)
    peer_rows = [frames.OverviewPeer(username=p, state=r[0] or "off", capacity=int(r[1] or 0),
                                     active=int(r[2] or 0), display_name=r[3] or p)
                 for p, r in zip(peers, results[:-1], strict=True)]
    overdue_s = services.settings.unanswered_s
    conv_rows = [frames.OverviewConversation(
                     conversation=info.id, state=info.state.value, channel=info.channel, peer=info.peer or None,
                     waited_s=max(0, (now_ms - info.queued_ms) // 1000) if info.queued_ms else 0,
                     risk=info.risk, escalated=list(info.escalated), label=info.label or None,
                     unanswered_s=unanswered, overdue=unanswered is not None and unanswered >= overdue_s)
                 for info in infos if info is not None and info.state != ConvState.NEW
                 for unanswered in [unanswered_s(info, now_ms)]]
    return frames.encode(frames.Overview(peers=peer_rows, waiting=int(results[-1]), conversations=conv_rows))


def unanswered_s(info: ConvInfo, now_ms: int) -> int | None:
    """Seconds since the seeker's last message that the assigned peer has not answered yet, or
    None (answered, nothing from the seeker, or no peer on it)."""
    if info.state != ConvState.ACTIVE or not info.peer or info.last_seeker_ms <= info.last_peer_ms:
        return None
    return max(0, (now_ms - info.last_seeker_ms) // 1000)


async def heartbeat(services: Services) -> None:
    """Keep this process's heartbeat key alive; the worker treats a missing one as a dead process.

    If the key had vanished (Redis lost it, or the worker swept this process while it was
    stalled), every local socket attaches again, so no live socket is left to a grace timer.
    """
    k = services.keys
    while True:
        try:
            async with services.redis.pipeline(transaction=True) as pipe:
                pipe.set(k.proc(services.proc_id), "1", ex=HEARTBEAT_TTL_S, get=True)
                pipe.sadd(k.procs, services.proc_id)
                previous, _ = await pipe.execute()
            if previous is None:
                await reattach_all(services)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise_if_cancelling()
            log.warning("heartbeat.failed", error=type(exc).__name__)
        await asyncio.sleep(HEARTBEAT_S)


async def reattach_all(services: Services) -> None:
    for seeker in list(services.seekers):
        if seeker.conv is not None:
            await services.engine.attach("seeker", seeker.conv, seeker.id, services.proc_id)
    for peer in list(services.peers):
        await services.engine.attach("peer", peer.user, peer.id, services.proc_id)
