"""Send one text with the official twilio client, and say what a failure means.

The client is ``twilio.rest.Client`` on its asyncio transport
(:class:`~twilio.http.async_http_client.AsyncTwilioHttpClient`, aiohttp underneath).
Every resource URL the library builds starts with ``https://api.twilio.com``; to reach
``TWILIO_API_BASE`` instead (the local simulator, a test server) the HTTP client
rewrites that prefix, which is the extension point Twilio documents ("custom HTTP
clients") and works for every resource without touching the library's domain objects.

Outcomes: a message SID on success; :class:`RetryableSendError` for a network error, a
timeout, HTTP 5xx or 429 (and Twilio's rate-limit codes); :class:`PermanentSendError` for
any other 4xx, carrying Twilio's error code (21610 opted out, 21211 invalid number, ...),
and, without a request, for a blank body (code ``empty``).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from types import TracebackType
from typing import Any, Protocol

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from config.settings import Settings
from config.textrules import is_blank
from sms.errors import PermanentSendError, RetryableSendError, SendError

TWILIO_API_BASE = "https://api.twilio.com"

# Twilio codes that come with a 4xx status yet only mean "not now": 20429 too many
# requests, 14107 outbound SMS rate limit exceeded.
RETRYABLE_CODES = frozenset({20429, 14107})

# The library logs request URLs and response headers at INFO on its own logger; ours
# keeps that quiet (bodies are never logged by it, but nothing here needs the noise).
_http_logger = logging.getLogger("chatd.sms.twilio_http")
_http_logger.setLevel(logging.WARNING)


class Sender(Protocol):
    """What the outbox needs from a sender (tests and the glue may supply their own)."""

    @property
    def from_number(self) -> str:
        """The number texts are sent from; pacing is per sending number."""
        ...

    async def send(self, to: str, body: str) -> str:
        """Send ``body`` to ``to``; the message SID, or a :class:`SendError`."""
        ...


def classify_failure(status: int | None, code: int | None) -> SendError:
    """The error for an HTTP ``status`` (``None``: no response at all) and Twilio ``code``."""
    tag = str(code) if code is not None else (f"http_{status}" if status is not None else "network")
    if status is None or status >= 500 or status == 429 or (code is not None and code in RETRYABLE_CODES):
        return RetryableSendError(tag, status=status)
    return PermanentSendError(tag, status=status)


class _BaseUrlHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """The library's aiohttp client, sending ``api.twilio.com`` requests to another base."""

    def __init__(self, api_base: str) -> None:
        # No session yet: aiohttp sessions belong to a running loop, and a sender may be
        # built before one runs. The first request opens it (see ``request``).
        super().__init__(pool_connections=False, logger=_http_logger)
        self._api_base = api_base.rstrip("/")

    # The signature is the library's; callers bound the whole send with asyncio.timeout.
    async def request(self, method: str, url: str, params: dict[str, object] | None = None,
                      data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                      auth: tuple[str, str] | None = None, timeout: float | None = None,  # noqa: ASYNC109
                      allow_redirects: bool = False) -> Response:
        if url.startswith(TWILIO_API_BASE + "/"):
            url = self._api_base + url[len(TWILIO_API_BASE):]
        if self.session is None:
            self.session: aiohttp.ClientSession | None = aiohttp.ClientSession()
        if auth is not None:
            # The library would wrap these in aiohttp.BasicAuth, deprecated since aiohttp
            # 3.14; an explicit header is the same bytes on the wire.
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers = {**(headers or {}), "Authorization": f"Basic {token}"}
        return await super().request(method, url, params=params, data=data, headers=headers, auth=None,
                                     timeout=timeout, allow_redirects=allow_redirects)


class TwilioSender:
    """Sends texts from one number through the Messages API.

    Use as an async context manager (or call :meth:`aclose`): the aiohttp session must be
    opened inside the running loop and closed before it ends.
    """

    def __init__(self, account_sid: str, auth_token: str, from_number: str, *,
                 api_base: str = TWILIO_API_BASE, status_callback_url: str | None = None,
                 timeout_s: float = 15.0) -> None:
        self._from = from_number
        self._status_callback = status_callback_url
        self._timeout_s = timeout_s
        self._http = _BaseUrlHttpClient(api_base)
        self._client = Client(account_sid, auth_token, http_client=self._http)
        # Edge and region would rewrite the host name (api.us1.twilio.com...) before our
        # base URL swap could match; the library reads them from os.environ otherwise.
        self._client.edge = None
        self._client.region = None
        # The library imports its API modules on first use, ~0.3 s of CPU: pay it now, at
        # start, not in the middle of the first text (it stalled the worker's loop under load).
        _ = self._client.messages
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings, *, account_sid: str | None = None,
                      auth_token: str | None = None, from_number: str | None = None,
                      timeout_s: float = 15.0) -> TwilioSender:
        """A sender for the configured account, posting status callbacks to ``/sms/status``.

        The keyword arguments stand in for unset Twilio settings (the simulator's account).
        """
        sid = settings.twilio_account_sid or account_sid
        token = settings.twilio_auth_token or auth_token
        number = settings.twilio_from_number or from_number
        if not (sid and token and number):
            raise ValueError("TwilioSender needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
                             "TWILIO_FROM_NUMBER")
        return cls(sid, token, number, api_base=settings.twilio_api_base,
                   status_callback_url=settings.public_url.rstrip("/") + "/sms/status",
                   timeout_s=timeout_s)

    @property
    def from_number(self) -> str:
        return self._from

    async def send(self, to: str, body: str) -> str:
        """Create one message; its SID, or :class:`RetryableSendError`/:class:`PermanentSendError`."""
        if self._closed:
            raise RuntimeError("TwilioSender is closed")
        if is_blank(body):
            # The outbox never hands over a blank part (sms.segments leaves them out); should
            # one come anyway, the peer sees it failed ("empty") rather than the texter
            # getting a text that shows nothing.
            raise PermanentSendError("empty")
        kwargs: dict[str, Any] = {"to": to, "from_": self._from, "body": body}
        if self._status_callback:
            kwargs["status_callback"] = self._status_callback
        try:
            async with asyncio.timeout(self._timeout_s):
                message = await self._client.messages.create_async(**kwargs)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise classify_failure(int(exc.status), _int_or_none(exc.code)) from None
        except (TimeoutError, aiohttp.ClientError, OSError, TwilioException, ValueError):
            # No usable answer (dropped connection, timeout, garbage JSON): Twilio may or
            # may not have queued the text, and resending is the at-least-once choice.
            raise classify_failure(None, None) from None
        sid = getattr(message, "sid", None)
        if not isinstance(sid, str) or not sid:
            raise classify_failure(None, None)
        return sid

    async def aclose(self) -> None:
        """Close the HTTP session; idempotent."""
        if not self._closed:
            self._closed = True
            await self._http.close()

    async def __aenter__(self) -> TwilioSender:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()


def _int_or_none(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None
