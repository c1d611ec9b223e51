"""The local phone simulator, for trying SMS without a Twilio account.

When no Twilio credentials are configured, each chatd process starts the Twilio-compatible
server of :mod:`sms.twilio_server` on a loopback port and sends its texts there; ``/dev/phone``
is a page that acts as a phone: choose a number, write texts (posted to ``/sms/inbound`` with
a correct signature, exactly as Twilio would), and see the texts the service sent to it. None
of this exists when real credentials are configured. Meant for one ``chatd serve``: with
several processes each keeps its own record of sent texts.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from config.settings import Settings
from config.textrules import find_unencodable
from sms.hashing import normalise_e164
from sms.signature import compute_signature
from sms.twilio_server import LocalTwilio, new_sid

if TYPE_CHECKING:
    from sms.bridge import Credentials

CSP = ("default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
_MESSAGE_RE = re.compile(r"<Message>(.*?)</Message>", re.S)


class Simulator:
    """The in-process Twilio stand-in and the phone's view of it."""

    def __init__(self, creds: Credentials, settings: Settings) -> None:
        self.creds = creds
        self.settings = settings
        self.twilio = LocalTwilio(creds.account_sid, creds.auth_token, status_callbacks=True,
                                  callback_delay_s=0.2)

    async def start(self) -> str:
        return await self.twilio.start("127.0.0.1", 0)

    async def aclose(self) -> None:
        await self.twilio.aclose()

    async def send_from_phone(self, number: str, body: str) -> str | None:
        """Post a signed inbound webhook as Twilio would; the TwiML reply's text, if any."""
        url = self.settings.public_url + "/sms/inbound"
        params = {"MessageSid": new_sid(), "AccountSid": self.creds.account_sid, "From": number,
                  "To": self.creds.from_number, "Body": body, "NumMedia": "0", "ApiVersion": "2010-04-01"}
        signature = compute_signature(self.creds.auth_token, url, params)
        async with httpx.AsyncClient(timeout=5) as http:
            r = await http.post(url, data=params, headers={"X-Twilio-Signature": signature})
        r.raise_for_status()
        match = _MESSAGE_RE.search(r.text)
        if match is None:
            return None
        from xml.sax.saxutils import unescape
        return unescape(match.group(1))

    def received(self, number: str) -> list[dict[str, Any]]:
        return [{"body": m.body, "sid": m.sid} for m in self.twilio.messages if m.to == number]


def _sim(request: Request) -> Simulator:
    sim: Simulator = request.app.state.services.sms_simulator
    return sim


async def phone_page(request: Request) -> Response:
    html = resources.files("sms").joinpath("static/phone.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store",
                                       "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})


async def phone_asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ("phone.js", "phone.css"):
        return Response(status_code=404)
    body = resources.files("sms").joinpath(f"static/{name}").read_text(encoding="utf-8")
    media = "text/javascript" if name.endswith(".js") else "text/css"
    return Response(body, media_type=media, headers={"X-Content-Type-Options": "nosniff"})


async def phone_send(request: Request) -> Response:
    try:
        data = await request.json()
    except (ValueError, RecursionError):
        return JSONResponse({"error": "bad_request"}, status_code=400)
    if find_unencodable(data) is not None:  # a lone surrogate could not be posted on: a 500
        return JSONResponse({"error": "bad_request", "message": "text that is not valid Unicode"},
                            status_code=400)
    number = normalise_e164(str(data.get("from", ""))) if isinstance(data, dict) else None
    body = data.get("body") if isinstance(data, dict) else None
    if number is None or not isinstance(body, str) or not body.strip() or len(body) > 1600:
        return JSONResponse({"error": "bad_request", "message": "a phone number and a text of 1..1600"},
                            status_code=400)
    reply = await _sim(request).send_from_phone(number, body)
    return JSONResponse({"from": number, "reply": reply})


async def phone_messages(request: Request) -> Response:
    number = normalise_e164(request.query_params.get("number", ""))
    if number is None:
        return JSONResponse({"error": "bad_request"}, status_code=400)
    return JSONResponse({"number": number, "messages": _sim(request).received(number)})


def simulator_routes() -> list[BaseRoute]:
    return [
        Route("/dev/phone", phone_page),
        Route("/dev/phone/static/{name}", phone_asset),
        Route("/dev/phone/api/send", phone_send, methods=["POST"]),
        Route("/dev/phone/api/messages", phone_messages),
    ]
