"""Nothing private in the logs: message texts, resume tokens, cookies, passwords."""

from __future__ import annotations

import contextlib
import json

import pytest

from config.logging import configure_logging, redact
from tests.conftest import PASSWORD, Harness


async def test_logs_of_a_full_conversation_hold_nothing_private(harness: Harness,
                                                               capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "debug")
    try:
        await harness.start()
        await harness.add_peer("alice")
        cookie = await harness.login("alice")
        peer = await harness.peer("alice", capacity=1, cookie=cookie)
        seeker, welcome = await harness.seeker()
        secrets_used = ["SEEKER-TEXT-7f3a", "PEER-TEXT-91bc", "NOTE-TEXT-55aa", "I want to kill myself",
                        welcome["resume"], cookie, PASSWORD]
        await seeker.send(type="message", client_id="a", text="SEEKER-TEXT-7f3a")
        await seeker.send(type="message", client_id="b", text="I want to kill myself")
        offer = await peer.next("offer")
        await peer.send(type="accept", offer=offer["offer"])
        conv = welcome["conversation"]
        await peer.next("assigned")
        await peer.send(type="message", conversation=conv, client_id="p", text="PEER-TEXT-91bc")
        await peer.send(type="note", conversation=conv, text="NOTE-TEXT-55aa")
        await peer.next("note")
        await seeker.send(type="end")
        await seeker.next("ended")
        await harness.close()
    finally:
        configure_logging("console", "warning")
    out, err = capfd.readouterr()
    logs = out + err
    assert "conversation.queued" in logs and "offer.accepted" in logs  # logging did happen
    for secret in secrets_used:
        assert secret not in logs, f"{secret[:12]}... leaked into the logs"
    for line in err.splitlines():
        if line.startswith("{"):
            json.loads(line)  # production format: one JSON object a line


def test_redaction_processor_drops_private_keys_and_masks_numbers() -> None:
    event = redact(None, "info", {"event": "x", "text": "hello", "token": "abc", "cookie": "c",
                                  "detail": "call +1 613 555 0199 now", "conversation": "ab12"})
    assert event["text"] == event["token"] == event["cookie"] == "[redacted]"
    assert "555" not in event["detail"] and event["conversation"] == "ab12"


async def test_logging_to_a_broken_stream_never_breaks_serving(harness: Harness,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk or closed log pipe loses log lines, not requests (stderr → /dev/full)."""
    configure_logging("json", "debug")
    full = open("/dev/full", "w")  # noqa: SIM115 - closed below
    monkeypatch.setattr("sys.stderr", full)
    try:
        await harness.start()
        await harness.add_peer("alice")
        peer = await harness.peer("alice", capacity=1)
        seeker, _ = await harness.seeker()
        await seeker.send(type="message", client_id="a", text="hello")
        await seeker.next("ack")
        offer = await peer.next("offer")
        await peer.send(type="accept", offer=offer["offer"])
        await peer.next("assigned")
        await seeker.send(type="not-a-type")
        assert (await seeker.next("error"))["code"] == "bad_request"
    finally:
        monkeypatch.undo()
        with contextlib.suppress(OSError):  # closing flushes into a full device
            full.close()
        configure_logging("console", "warning")


@pytest.mark.parametrize("value", ["+16135550123", "call 613-555-0123 now", "(613) 555 0123", "tel:+16135550123",
                                   "number+16135550123", "6135550123"])
def test_phone_numbers_are_masked_in_log_values(value: str) -> None:
    assert "[number]" in redact(None, "", {"detail": value})["detail"]


def test_ids_with_long_digit_runs_are_logged_whole() -> None:
    """A MessageSid or a conversation id is hex: its digit runs sit between letters, and an
    operator tracing a lost text needs it whole (about 8 % of them have a run of 10 digits)."""
    for value in ("SM2012c5550123303074f8c1716aab", "5ed55742d566b4961234567890a0b0e", "a1234567890123b"):
        assert redact(None, "", {"message_sid": value})["message_sid"] == value
