"""A local Twilio-compatible Messages API, for the tests and the built-in phone simulator.

It implements what chatd uses of Twilio, over real HTTP so the official ``twilio`` client
talks to it unchanged (``TWILIO_API_BASE`` pointed at it):

* ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with ``To``, ``From``,
  ``Body``, ``StatusCallback``; HTTP Basic auth with the account SID and auth token;
  answers 201 with a Message resource shaped like Twilio's.
* Failure injection: :meth:`LocalTwilio.fail_next` makes the next requests answer 500,
  429, a Twilio error (400 with ``code`` 21610, 21211, ...) or drop the connection.
* Status callbacks: with ``status_callbacks=True`` each accepted message is followed by
  signed ``sent`` then ``delivered`` callbacks to its ``StatusCallback`` URL.
* Inbound texts: :meth:`LocalTwilio.send_inbound` posts a signed Messaging webhook, as
  Twilio does when a phone texts the number.

Use :attr:`LocalTwilio.app` mounted in another Starlette app, or :meth:`LocalTwilio.start`
to serve it with uvicorn on 127.0.0.1 (port 0 by default) in the running event loop.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import secrets
import socket
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from sms.segments import segment_count
from sms.signature import SIGNATURE_HEADER, compute_signature

log = structlog.get_logger("chatd.sms.local_twilio")

DROP = 0
"""Pass as ``status`` to :meth:`LocalTwilio.fail_next` to drop the connection mid-response."""

_ERROR_MESSAGES = {
    21211: "The 'To' number is not a valid phone number.",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    20429: "Too Many Requests",
}


CALLBACK_DRAIN_S = 2.0


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message the local server accepted."""

    sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    status_callback: str | None
    num_segments: int
    received_at: float  # time.monotonic() when accepted


@dataclass(slots=True)
class _Failure:
    status: int
    code: int | None


@dataclass(slots=True)
class _Stats:
    requests: int = 0
    failures: int = 0
    callbacks: list[tuple[str, str]] = field(default_factory=list)  # (MessageSid, status) posted


def new_sid(prefix: str = "SM") -> str:
    """A Twilio-looking SID: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


class _NoSignalServer(uvicorn.Server):
    """uvicorn, minus its SIGINT/SIGTERM handlers: the host process owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class LocalTwilio:
    """An in-process stand-in for Twilio's Messages API; see the module docstring."""

    def __init__(self, account_sid: str, auth_token: str, *, status_callbacks: bool = False,
                 callback_delay_s: float = 0.0) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.status_callbacks = status_callbacks
        self.callback_delay_s = callback_delay_s
        self.messages: list[SentMessage] = []
        self.stats = _Stats()
        self._failures: deque[_Failure | None] = deque()  # None: let one succeed
        self._arrived = asyncio.Condition()
        self._callback_tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._http: httpx.AsyncClient | None = None
        self._server: _NoSignalServer | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self.base_url: str | None = None
        self.app = Starlette(routes=[
            Route("/2010-04-01/Accounts/{account_sid}/Messages.json", self._create_message,
                  methods=["POST"]),
        ])

    # -- control ---------------------------------------------------------------------------

    def fail_next(self, status: int, n: int = 1, *, code: int | None = None, after: int = 0) -> None:
        """Answer ``n`` create requests with ``status`` (and Twilio ``code``), after letting
        ``after`` requests succeed; calls queue up behind each other.

        ``status=DROP`` closes the connection after the response headers, as a network
        failure would; a 4xx with ``code`` gets Twilio's error JSON.
        """
        self._failures.extend([None] * after)
        self._failures.extend(_Failure(status, code) for _ in range(n))

    def bodies_to(self, to: str) -> list[str]:
        """Bodies accepted for ``to``, in order."""
        return [m.body for m in self.messages if m.to == to]

    async def wait_for_messages(self, count: int, timeout_s: float = 10.0) -> list[SentMessage]:
        """Wait until at least ``count`` messages were accepted; all of them."""
        async with asyncio.timeout(timeout_s), self._arrived:
            await self._arrived.wait_for(lambda: len(self.messages) >= count)
        return list(self.messages)

    async def send_inbound(self, webhook_url: str, *, from_: str, to: str, body: str,
                           message_sid: str | None = None) -> httpx.Response:
        """POST a signed inbound-message webhook to ``webhook_url`` like Twilio would."""
        params = {
            "MessageSid": message_sid or new_sid(),
            "SmsMessageSid": "",
            "AccountSid": self.account_sid,
            "MessagingServiceSid": "",
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": str(segment_count(body)),
            "ApiVersion": "2010-04-01",
        }
        params["SmsMessageSid"] = params["MessageSid"]
        return await self._post_signed(webhook_url, params)

    # -- serving ----------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve :attr:`app` with uvicorn in this event loop; returns the base URL."""
        if self._serve_task is not None:
            raise RuntimeError("LocalTwilio already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        bound_port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, lifespan="off", log_level="warning", access_log=False,
                                timeout_graceful_shutdown=2)
        self._server = _NoSignalServer(config)
        self._serve_task = asyncio.create_task(self._server.serve(sockets=[sock]), name="local-twilio")
        while not self._server.started:
            if self._serve_task.done():
                sock.close()
                await self._serve_task  # raises what made uvicorn stop
                raise RuntimeError("LocalTwilio server stopped while starting")
            await asyncio.sleep(0.01)
        self.base_url = f"http://{host}:{bound_port}"
        # The callback client now (an SSL context and lazy imports, ~0.1 s of CPU), not while
        # the first text's callbacks are due.
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10.0)
        return self.base_url

    async def aclose(self) -> None:
        """Stop serving (if started), cancel pending callbacks, close the HTTP client; idempotent."""
        # Callbacks in flight finish first: one cancelled in the middle of its connect can
        # leave a socket behind (an anyio cancellation race), so only stragglers are cancelled,
        # and no new ones start once closing.
        self._closing = True
        if self._callback_tasks:
            await asyncio.wait(list(self._callback_tasks), timeout=CALLBACK_DRAIN_S)
        for task in list(self._callback_tasks):
            task.cancel()
        await asyncio.gather(*self._callback_tasks, return_exceptions=True)
        if self._server is not None and self._serve_task is not None:
            self._server.should_exit = True
            await self._serve_task
            self._server = self._serve_task = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> LocalTwilio:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- the Messages API ---------------------------------------------------------------------

    async def _create_message(self, request: Request) -> Response:
        self.stats.requests += 1
        sid = request.path_params["account_sid"]
        if sid != self.account_sid or not self._authorised(request):
            return _twilio_error(401, 20003, "Authenticate")
        failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            self.stats.failures += 1
            if failure.status == DROP:
                return _DroppedResponse()
            if failure.code is not None or 400 <= failure.status < 500:
                code = failure.code if failure.code is not None else failure.status
                return _twilio_error(failure.status, code, _ERROR_MESSAGES.get(code, "Error"))
            return _twilio_error(failure.status, failure.status, "Service unavailable")
        form = await request.form()
        to, from_, body = (str(form.get(name) or "") for name in ("To", "From", "Body"))
        if not to:
            return _twilio_error(400, 21604, "A 'To' phone number is required.")
        if not from_:
            return _twilio_error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return _twilio_error(400, 21602, "Message body is required.")
        callback = str(form.get("StatusCallback") or "") or None
        message = SentMessage(sid=new_sid(), account_sid=sid, to=to, from_=from_, body=body,
                              status_callback=callback, num_segments=segment_count(body),
                              received_at=time.monotonic())
        async with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        if self.status_callbacks and callback and not self._closing:
            task = asyncio.create_task(self._post_callbacks(message, callback))
            self._callback_tasks.add(task)
            task.add_done_callback(self._callback_tasks.discard)
        return JSONResponse(_resource(message), status_code=201)

    def _authorised(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.account_sid) and secrets.compare_digest(
            password, self.auth_token)

    async def _post_callbacks(self, message: SentMessage, url: str) -> None:
        for status in ("sent", "delivered"):
            if self.callback_delay_s:
                await asyncio.sleep(self.callback_delay_s)
            params = {"MessageSid": message.sid, "SmsSid": message.sid, "AccountSid": self.account_sid,
                      "From": message.from_, "To": message.to, "MessageStatus": status,
                      "SmsStatus": status, "ApiVersion": "2010-04-01"}
            try:
                await self._post_signed(url, params)
            except httpx.HTTPError as exc:
                # Twilio does not retry status callbacks either; note it and go on.
                log.warning("local_twilio.callback_failed", message_sid=message.sid, error=type(exc).__name__)
                return
            self.stats.callbacks.append((message.sid, status))

    async def _post_signed(self, url: str, params: dict[str, str]) -> httpx.Response:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10.0)
        signature = compute_signature(self.auth_token, url, params)
        return await self._http.post(url, data=params, headers={SIGNATURE_HEADER: signature})


def _resource(message: SentMessage) -> dict[str, Any]:
    """The Message resource JSON Twilio answers a create with."""
    now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    uri = f"/2010-04-01/Accounts/{message.account_sid}/Messages/{message.sid}.json"
    return {
        "account_sid": message.account_sid, "api_version": "2010-04-01", "body": message.body,
        "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
        "error_code": None, "error_message": None, "from": message.from_,
        "messaging_service_sid": None, "num_media": "0", "num_segments": str(message.num_segments),
        "price": None, "price_unit": "USD", "sid": message.sid, "status": "queued",
        "subresource_uris": {"media": uri.removesuffix(".json") + "/Media.json"},
        "to": message.to, "uri": uri,
    }


def _twilio_error(status: int, code: int, message: str) -> JSONResponse:
    """Twilio's legacy error body, which the twilio client turns into TwilioRestException."""
    return JSONResponse({"code": code, "message": message,
                         "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
                        status_code=status)


class _DroppedResponse(Response):
    """Starts a response and stops mid-body, so the server closes the connection."""

    def __init__(self) -> None:
        super().__init__()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]})
        await send({"type": "http.response.body", "body": b'{"sid": "SM', "more_body": True})
        # Returning without finishing makes uvicorn close the transport: to the client
        # the connection dropped with the answer half read.
