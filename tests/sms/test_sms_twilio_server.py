"""sms.twilio_server: the local Twilio-compatible Messages API, over real HTTP."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from sms.signature import SIGNATURE_HEADER, is_valid_signature
from sms.twilio_server import DROP, LocalTwilio

ServeApp = Callable[[ASGIApp], contextlib.AbstractAsyncContextManager[str]]


def _url(local: LocalTwilio) -> str:
    return f"{local.base_url}/2010-04-01/Accounts/{local.account_sid}/Messages.json"


async def test_create_answers_201_with_a_message_resource(local_twilio: LocalTwilio) -> None:
    async with httpx.AsyncClient(auth=(local_twilio.account_sid, local_twilio.auth_token)) as client:
        response = await client.post(_url(local_twilio), data={"To": "+16135550100", "From": "+15005550006",
                                                                "Body": "hello"})
    assert response.status_code == 201
    body = response.json()
    assert body["sid"].startswith("SM") and len(body["sid"]) == 34
    assert body["status"] == "queued" and body["error_code"] is None
    assert (body["to"], body["from"], body["body"], body["num_segments"]) == (
        "+16135550100", "+15005550006", "hello", "1")
    assert [m.body for m in local_twilio.messages] == ["hello"]


async def test_wrong_credentials_are_refused_with_401(local_twilio: LocalTwilio) -> None:
    async with httpx.AsyncClient(auth=(local_twilio.account_sid, "wrong")) as client:
        response = await client.post(_url(local_twilio), data={"To": "+1", "From": "+2", "Body": "x"})
    assert response.status_code == 401 and response.json()["code"] == 20003
    assert local_twilio.messages == []


async def test_fail_next_answers_the_given_failures_then_recovers(local_twilio: LocalTwilio) -> None:
    local_twilio.fail_next(500)
    local_twilio.fail_next(429)
    local_twilio.fail_next(400, code=21610)
    form = {"To": "+16135550100", "From": "+15005550006", "Body": "x"}
    async with httpx.AsyncClient(auth=(local_twilio.account_sid, local_twilio.auth_token)) as client:
        statuses = [(await client.post(_url(local_twilio), data=form)) for _ in range(4)]
    assert [r.status_code for r in statuses] == [500, 429, 400, 201]
    assert statuses[2].json()["code"] == 21610
    assert len(local_twilio.messages) == 1


async def test_a_dropped_connection_is_a_transport_error(local_twilio: LocalTwilio) -> None:
    local_twilio.fail_next(DROP)
    async with httpx.AsyncClient(auth=(local_twilio.account_sid, local_twilio.auth_token)) as client:
        try:
            await client.post(_url(local_twilio), data={"To": "+1", "From": "+2", "Body": "x"})
        except httpx.TransportError:
            pass
        else:
            raise AssertionError("the connection should have dropped")
    assert local_twilio.messages == []


async def test_status_callbacks_are_signed_and_go_sent_then_delivered(serve_app: ServeApp) -> None:
    received: list[dict[str, str]] = []
    local = LocalTwilio("AC" + "1" * 32, "token", status_callbacks=True)

    async def status(request: Request) -> PlainTextResponse:
        form = await request.form()
        params = [(k, str(v)) for k, v in form.multi_items()]
        assert is_valid_signature(local.auth_token, str(request.url), params,
                                  request.headers.get(SIGNATURE_HEADER))
        received.append(dict(params))
        return PlainTextResponse("")

    async with serve_app(Starlette(routes=[Route("/sms/status", status, methods=["POST"])])) as base, local:
        async with httpx.AsyncClient(auth=(local.account_sid, local.auth_token)) as client:
            response = await client.post(_url(local), data={
                "To": "+16135550100", "From": "+15005550006", "Body": "x",
                "StatusCallback": f"{base}/sms/status"})
        sid = response.json()["sid"]
        for _ in range(200):
            if len(local.stats.callbacks) == 2:
                break
            await _tick()
    assert [(r["MessageSid"], r["MessageStatus"]) for r in received] == [(sid, "sent"), (sid, "delivered")]


async def test_send_inbound_posts_a_signed_webhook(serve_app: ServeApp) -> None:
    local = LocalTwilio("AC" + "2" * 32, "token")
    seen: list[bool] = []

    async def inbound(request: Request) -> PlainTextResponse:
        form = await request.form()
        seen.append(is_valid_signature(local.auth_token, str(request.url),
                                       [(k, str(v)) for k, v in form.multi_items()],
                                       request.headers.get(SIGNATURE_HEADER)))
        return PlainTextResponse(str(form["Body"]))

    async with serve_app(Starlette(routes=[Route("/sms/inbound", inbound, methods=["POST"])])) as base:
        try:
            response = await local.send_inbound(f"{base}/sms/inbound", from_="+16135550100",
                                                to="+15005550006", body="Bonjour")
        finally:
            await local.aclose()
    assert response.text == "Bonjour" and seen == [True]


async def _tick() -> None:
    import asyncio

    await asyncio.sleep(0.01)
