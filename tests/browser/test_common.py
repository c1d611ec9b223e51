"""The logic of chatd/static/common.js on its own, in a page that loads only that file.

No chatd server: the page and the module are answered from chatd/static by a route.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pagehelpers import REPO, WAIT_MS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]

ORIGIN = "http://common.test"
STATIC = REPO / "chatd" / "static"


@pytest.fixture(scope="module")
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    context.route(f"{ORIGIN}/", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>common.js</title>"))
    context.route(f"{ORIGIN}/static/common.js", lambda route: route.fulfill(
        status=200, content_type="text/javascript", body=(STATIC / "common.js").read_text()))
    page = context.new_page()
    page.goto(f"{ORIGIN}/")
    try:
        yield page
    finally:
        context.close()


@pytest.mark.parametrize(("seen", "contiguous"), [
    pytest.param([], 0, id="nothing-seen"),
    pytest.param([1, 2, 3], 3, id="in-order"),
    pytest.param([1, 2, 4], 2, id="ack-overtook-a-message"),
    pytest.param([1, 2, 4, 6, 3], 4, id="gap-filled-up-to-the-next-gap"),
    pytest.param([2, 3, 1], 3, id="first-seen-last"),
    pytest.param([1, 1, 2, 2, 1], 2, id="replayed-twice"),
    pytest.param([1, 0, -1, 2.5, "3", None], 1, id="not-a-seq"),
])
def test_seen_seqs_resume_from_the_last_seq_with_no_gap_below(page: Any, seen: list[Any],
                                                               contiguous: int) -> None:
    """SeenSeqs.contiguous is the largest N with every seq 1..N seen, whatever the order."""
    got = page.evaluate("""async (seqs) => {
        const { SeenSeqs } = await import('/static/common.js');
        const seen = new SeenSeqs();
        for (const seq of seqs) seen.add(seq);
        return seen.contiguous;
    }""", seen)
    assert got == contiguous


def test_seen_seqs_clear_starts_again_from_zero(page: Any) -> None:
    """A new conversation in the same tab (or a forgotten one) resumes from nothing."""
    got = page.evaluate("""async () => {
        const { SeenSeqs } = await import('/static/common.js');
        const seen = new SeenSeqs();
        for (const seq of [1, 2, 4]) seen.add(seq);
        seen.clear();
        seen.add(3);
        return seen.contiguous;
    }""")
    assert got == 0


def test_transcript_resumes_from_the_gap_and_shows_each_seq_once(page: Any) -> None:
    """Transcript: an own ack (4) before the peer's message (3); the replay after the gap
    (3, 4) shows 3 and drops the second 4."""
    got = page.evaluate("""async () => {
        const { Transcript } = await import('/static/common.js');
        const list = document.createElement('ol');
        const t = new Transcript(list, {own: 'seeker', label: (f) => f, state: (s) => s, lang: () => 'en'});
        t.addMessage({seq: 1, from: 'seeker', text: 'first', at: null});
        t.addMessage({seq: 2, from: 'system', text: 'joined', at: null});
        t.addPending('c4', 'after');
        t.ack('c4', 4);
        const before = t.seen.contiguous;
        t.addMessage({seq: 3, from: 'peer', text: 'held', at: null});
        t.addMessage({seq: 4, from: 'seeker', text: 'after', at: null});
        return {before, after: t.seen.contiguous, shown: [...list.children].map((li) => li.dataset.seq)};
    }""")
    assert got == {"before": 2, "after": 4, "shown": ["1", "2", "3", "4"]}


TRANSCRIPT_RUN = """async (steps) => {
    const { Transcript } = await import('/static/common.js');
    const list = document.createElement('ol');
    document.body.replaceChildren(list);
    const t = new Transcript(list, { own: 'peer', label: (f) => f, state: (s) => s, lang: () => 'en' });
    for (const [kind, ...args] of steps) {
        if (kind === 'type') t.addPending(args[0], args[1]);
        if (kind === 'replay') t.addMessage({ seq: args[0], from: args[1], text: args[2], at: null });
        if (kind === 'ack') t.ack(args[0], args[1]);
    }
    return [...list.querySelectorAll('li.msg')].map((li) => [Number(li.dataset.seq), li.dataset.text]);
}"""


@pytest.mark.parametrize("steps", [
    # c1's frame was lost on the way; c2 was stored as seq 5. The replay's seq 5 matches c1 by
    # its text; c1, sent again, is stored as seq 6; c2's ack names seq 5.
    pytest.param([["type", "c1", "ok"], ["type", "c2", "ok"], ["replay", 5, "peer", "ok"],
                  ["ack", "c1", 6], ["ack", "c2", 5]], id="first-copy-lost-acks-in-order"),
    pytest.param([["type", "c1", "ok"], ["type", "c2", "ok"], ["replay", 5, "peer", "ok"],
                  ["ack", "c2", 5], ["ack", "c1", 6]], id="first-copy-lost-acks-reversed"),
    pytest.param([["type", "c1", "ok"], ["type", "c2", "ok"], ["replay", 5, "peer", "ok"],
                  ["replay", 6, "peer", "ok"], ["ack", "c1", 5], ["ack", "c2", 6]], id="both-stored-replayed"),
    pytest.param([["type", "c1", "ok"], ["type", "c2", "ok"], ["ack", "c2", 6], ["ack", "c1", 5]],
                 id="acks-only-out-of-order"),
])
def test_two_identical_own_messages_both_show_whatever_the_replay_matched(page: Any,
                                                                          steps: list[list[Any]]) -> None:
    """Two own messages with the same text are two messages: a replay that matched one by its
    text to the other's copy must not hide the second (it once showed a single "ok")."""
    got = page.evaluate(TRANSCRIPT_RUN, steps)
    assert got == [[5, "ok"], [6, "ok"]]


@pytest.mark.parametrize(("steps", "shown"), [
    # The seeker's seq 3 was published, then lost with the Redis primary; its next message took 3.
    pytest.param([["replay", 3, "seeker", "lost"], ["replay", 3, "seeker", "kept"], ["replay", 4, "seeker", "next"]],
                 [[3, "kept"], [4, "next"]], id="the-other-side's-seq-given-again"),
    # This side's "A" was shown under seq 5 by its replay, but no ack came: the primary died.
    # The seeker's "B" was stored as 5; "A", sent again, is acknowledged as 6.
    pytest.param([["type", "c1", "A"], ["replay", 5, "peer", "A"], ["replay", 5, "seeker", "B"], ["ack", "c1", 6]],
                 [[5, "B"], [6, "A"]], id="own-unacknowledged-message-overtaken"),
    pytest.param([["replay", 2, "seeker", "same"], ["replay", 2, "seeker", "same"]], [[2, "same"]],
                 id="a-plain-replay-is-still-one"),
])
def test_a_seq_given_again_after_a_failover_shows_the_stored_message(page: Any, steps: list[list[Any]],
                                                                    shown: list[list[Any]]) -> None:
    """A Redis failover can lose a message the other side already saw (published before its
    replica had it) and give its seq to the next: the screen follows what is stored, and no
    words are hidden behind the lost message's seq (docs/operations.md, the WAIT promise)."""
    assert page.evaluate(TRANSCRIPT_RUN, steps) == shown
