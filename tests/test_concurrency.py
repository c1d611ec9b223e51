"""Many seekers and peers at once: no conversation assigned twice, no capacity exceeded."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.conftest import Harness
from tests.helpers import WS


@pytest.mark.timeout(120)
async def test_forty_seekers_eight_peers_no_double_assignment(harness: Harness) -> None:
    webs = [await harness.start(worker=False), await harness.start(worker=False)]
    await harness.start(web=False)
    names = [f"peer{i}" for i in range(8)]
    for name in names:
        await harness.add_peer(name)
    peers = await asyncio.gather(*(harness.peer(n, capacity=3, server=webs[i % 2]) for i, n in enumerate(names)))
    seekers = await asyncio.gather(*(harness.seeker(server=webs[i % 2]) for i in range(40)))
    await asyncio.gather(*(s.send(type="message", client_id="c", text=f"seeker {i}")
                           for i, (s, _) in enumerate(seekers)))
    accepted: dict[str, list[str]] = {n: [] for n in names}

    async def take(name: str, ws: WS) -> None:
        # Each peer accepts everything it is offered, concurrently with the others.
        while len(accepted[name]) < 3:
            offer = await ws.next("offer", timeout=15)
            await ws.send(type="accept", offer=offer["offer"])
            assigned = await ws.next("assigned", conversation=offer["conversation"])
            accepted[name].append(assigned["conversation"])

    await asyncio.gather(*(take(n, ws) for n, ws in zip(names, peers, strict=True)))
    every = [c for convs in accepted.values() for c in convs]
    assert len(every) == 24 and len(set(every)) == 24
    engine = webs[0].services.engine
    for name in names:
        assert len(await engine.peer_conversations(name)) == 3
    for ws in peers:
        await ws.none("offer", within=0.3)
    infos = [await engine.info(w["conversation"]) for _, w in seekers]
    states = Counter(i.state.value for i in infos if i is not None)
    assert states == {"active": 24, "waiting": 16}
    # And each seeker sees exactly one peer.
    for s, w in seekers:
        if w["conversation"] in every:
            await s.next("status", state="active")
            await s.none("status", within=0.01, state="active")
