"""sms.sender: the official twilio client against the local server, outcomes classified."""

from __future__ import annotations

import socket

import pytest

from config.settings import Settings
from sms.errors import PermanentSendError, RetryableSendError
from sms.sender import TwilioSender, classify_failure
from sms.twilio_server import DROP, LocalTwilio

TO = "+16135550100"


async def test_a_send_returns_the_message_sid_and_reaches_the_base_url(
        sender: TwilioSender, local_twilio: LocalTwilio, settings: Settings) -> None:
    sid = await sender.send(TO, "hello")
    [message] = local_twilio.messages
    assert sid == message.sid and sid.startswith("SM")
    assert (message.to, message.from_, message.body) == (TO, settings.twilio_from_number, "hello")
    assert message.status_callback == "https://chatd.example.org/sms/status"


@pytest.mark.parametrize("body", [
    pytest.param("", id="empty"),
    pytest.param("\u200b\u200b", id="zero-width-spaces"),
    pytest.param(" \u2800\u3164", id="blank-looking"),
])
async def test_a_blank_body_is_refused_without_a_request(sender: TwilioSender, local_twilio: LocalTwilio,
                                                         body: str) -> None:
    """The last guard: whatever reaches the sender, a texter never gets a text that shows nothing."""
    with pytest.raises(PermanentSendError) as refused:
        await sender.send(TO, body)
    assert refused.value.code == "empty" and not refused.value.retryable
    assert local_twilio.stats.requests == 0


@pytest.mark.parametrize(("status", "code", "expected"), [
    pytest.param(500, None, "500", id="500"),
    pytest.param(503, None, "503", id="503"),
    pytest.param(429, None, "429", id="429"),
    pytest.param(429, 20429, "20429", id="429-twilio-code"),
    pytest.param(DROP, None, "network", id="dropped-connection"),
])
async def test_network_errors_5xx_and_429_are_retryable(sender: TwilioSender, local_twilio: LocalTwilio,
                                                        status: int, code: int | None, expected: str) -> None:
    local_twilio.fail_next(status, code=code)
    with pytest.raises(RetryableSendError) as caught:
        await sender.send(TO, "hello")
    assert caught.value.code == expected
    assert await sender.send(TO, "again")  # and the next try goes through


@pytest.mark.parametrize("code", [21610, 21211, 21408, 21614])
async def test_twilio_4xx_errors_are_permanent_with_their_code(sender: TwilioSender, local_twilio: LocalTwilio,
                                                               code: int) -> None:
    local_twilio.fail_next(400, code=code)
    with pytest.raises(PermanentSendError) as caught:
        await sender.send(TO, "hello")
    assert caught.value.code == str(code) and caught.value.status == 400


async def test_wrong_credentials_are_permanent(local_twilio: LocalTwilio) -> None:
    assert local_twilio.base_url
    async with TwilioSender(local_twilio.account_sid, "wrong-token", "+15005550006",
                            api_base=local_twilio.base_url) as sender:
        with pytest.raises(PermanentSendError) as caught:
            await sender.send(TO, "hello")
    assert caught.value.code == "20003"


async def test_nothing_listening_is_retryable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with TwilioSender("AC" + "0" * 32, "t", "+15005550006", api_base=f"http://127.0.0.1:{port}") as sender:
        with pytest.raises(RetryableSendError) as caught:
            await sender.send(TO, "hello")
    assert caught.value.code == "network" and caught.value.status is None


def test_classification_table() -> None:
    assert classify_failure(None, None).retryable
    assert classify_failure(502, 20500).retryable
    assert classify_failure(400, 14107).retryable
    assert not classify_failure(400, 21610).retryable
    assert not classify_failure(404, 20404).retryable


def test_from_settings_requires_the_twilio_account() -> None:
    with pytest.raises(ValueError, match="TWILIO_ACCOUNT_SID"):
        TwilioSender.from_settings(Settings())


async def test_aclose_is_idempotent_and_a_closed_sender_refuses(local_twilio: LocalTwilio) -> None:
    assert local_twilio.base_url
    sender = TwilioSender(local_twilio.account_sid, local_twilio.auth_token, "+15005550006",
                          api_base=local_twilio.base_url)
    await sender.send(TO, "x")
    await sender.aclose()
    await sender.aclose()
    with pytest.raises(RuntimeError):
        await sender.send(TO, "y")
