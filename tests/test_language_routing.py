"""Language-first routing (CONTRACT.md section 3) end to end: real sockets, Redis and worker."""

from __future__ import annotations

import asyncio
import time

from tests.conftest import Harness
from tests.helpers import t


async def test_french_conversation_goes_to_the_french_peer_when_an_english_only_one_is_free(harness: Harness) -> None:
    await harness.start(lang_fallback_s=t(60))
    await harness.add_peer("anglo", languages=("en",))
    await harness.add_peer("franco", languages=("fr",))
    # The English-only peer has been idle longest: without the language rule it would be chosen.
    anglo = await harness.peer("anglo", capacity=2)
    await asyncio.sleep(0.05)
    franco = await harness.peer("franco", capacity=2)
    seeker, welcome = await harness.seeker(lang="fr")
    await seeker.send(type="message", client_id="a", text="bonjour")
    offer = await franco.next("offer", conversation=welcome["conversation"])
    assert offer["lang"] == "fr"
    await anglo.none("offer", within=0.3)


async def test_only_an_english_peer_free_gets_a_french_conversation_after_the_fallback_not_before(
        harness: Harness) -> None:
    fallback_s = t(1.5)
    await harness.start(lang_fallback_s=fallback_s)
    await harness.add_peer("anglo", languages=("en",))
    anglo = await harness.peer("anglo", capacity=1)
    seeker, welcome = await harness.seeker(lang="fr")
    queued = time.monotonic()
    await seeker.send(type="message", client_id="a", text="bonjour")
    await seeker.next("ack")
    await anglo.none("offer", within=fallback_s * 0.7)
    offer = await anglo.next("offer", conversation=welcome["conversation"], timeout=t(5))
    assert time.monotonic() - queued >= fallback_s - 0.05
    assert offer["lang"] == "fr"


async def test_english_conversation_behind_a_waiting_french_one_is_not_held_back(harness: Harness) -> None:
    await harness.start(lang_fallback_s=t(60))
    await harness.add_peer("anglo", languages=("en",))
    anglo = await harness.peer("anglo", capacity=1)
    fr, _ = await harness.seeker(lang="fr")
    await fr.send(type="message", client_id="a", text="bonjour")
    await fr.next("ack")
    en, welcome = await harness.seeker(lang="en")
    await en.send(type="message", client_id="a", text="hello")
    await anglo.next("offer", conversation=welcome["conversation"])


async def test_language_fallback_fires_after_a_worker_restart(harness: Harness) -> None:
    """The fallback is a timer in Redis: a worker that was down when it came due matches the
    conversation with any peer as soon as it is back."""
    fallback_s = t(1.0)
    web = await harness.start(worker=False, lang_fallback_s=fallback_s)
    worker = await harness.start(web=False, lang_fallback_s=fallback_s)
    await harness.add_peer("anglo", languages=("en",))
    anglo = await harness.peer("anglo", capacity=1, server=web)
    seeker, welcome = await harness.seeker(lang="fr", server=web)
    await seeker.send(type="message", client_id="a", text="bonjour")
    await seeker.next("ack")
    assert await web.services.redis.zscore(web.services.keys.timers, f"lang|{welcome['conversation']}")
    await worker.stop()
    harness.servers.remove(worker)
    await asyncio.sleep(fallback_s + 0.3)
    await anglo.none("offer", within=0.2)
    await harness.start(web=False, lang_fallback_s=fallback_s)
    await anglo.next("offer", conversation=welcome["conversation"], timeout=t(5))
