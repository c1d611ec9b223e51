"""The pages of CONTRACT.md section 6: the seeker's chat window, the peer console, their files.

The pages are static files with no build step (``chatd/static``); the only thing the server
fills in is ``/api/public-config``, which the chat window reads for the crisis line, the
quick-exit address and the notice shown before the first message. The notice is the
operator's to word (``CHATD_NOTICE_EN`` / ``CHATD_NOTICE_FR``); the defaults below are
careful about what they promise, and docs/pages.md says how to change them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from chatd.program import seeker_service
from config.settings import Settings
from routing.frames import as_dict

STATIC_DIR = Path(__file__).parent / "static"

# No inline script or style anywhere in the pages, so none is allowed; Chromium and Firefox
# treat 'self' in connect-src as allowing ws:/wss: to the same host and port.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

PAGE_HEADERS = {
    **_SECURITY_HEADERS,
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # no-store: a shared or inspected device keeps no copy of the chat on disk, and
    # browsers keep a no-store page out of the back/forward cache, so after a quick exit
    # "forward" cannot bring the chat back either.
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}

# Static files may be cached but must be revalidated (ETag), so a deploy is seen at once.
STATIC_HEADERS = {**_SECURITY_HEADERS, "Cache-Control": "no-cache"}

# What is confidential and what is not comes first, short enough that on a phone (390 x 844)
# the part above the "---" is seen whole without scrolling; the details are folded under it.
_NOTICE_EN = """\
Confidential: what you write stays within the peer support team. A supervisor may read the \
conversation to support your peer supporter and to keep you safe.

Not confidential: if you tell us that your life or someone else's is in immediate danger, \
or that a child may be at risk, the peer supporter may have to contact emergency services \
or the crisis line. Unsure what a peer may have to report? Ask before you share details.

Peer supporters are members of the Defence Team community with lived experience, trained \
to listen and to support, not to counsel or to investigate. This is not an emergency \
service.

---

What is kept: the messages of this conversation are stored while it is open and {kept}, \
then deleted automatically. A record without any message text (when the chat took place, \
how long it lasted, whether it was passed to the crisis line) is kept for service \
statistics. When the chat has ended you can delete its messages at once. This page keeps \
nothing on your device after this browser tab is closed, and Quick exit clears it \
immediately.

You do not have to give your name, rank, unit or any detail that identifies you or anyone \
else, and we will not ask for them. If you are in danger right now, call 911."""

_NOTICE_FR = """\
Confidentiel\u00a0: ce que vous écrivez reste au sein de l'équipe de soutien par les pairs. \
Un superviseur peut lire la conversation pour soutenir votre pair aidant et assurer votre \
sécurité.

Non confidentiel\u00a0: si vous nous dites que votre vie ou celle d'autrui est en danger \
immédiat, ou qu'un enfant pourrait être en danger, le pair aidant pourrait devoir joindre \
les services d'urgence ou la ligne de crise. En cas de doute, posez la question avant de \
donner des détails.

Les pairs aidants, des membres de l'Équipe de la Défense au vécu semblable, sont formés \
pour écouter et soutenir, pas pour conseiller ni pour enquêter. Ce n'est pas un service \
d'urgence.

---

Ce qui est conservé\u00a0: les messages de cette conversation sont gardés pendant qu'elle est \
ouverte et {kept}, puis supprimés automatiquement. Un relevé sans aucun texte de message \
(quand la conversation a eu lieu, sa durée, si elle a été dirigée vers la ligne de crise) \
est conservé à des fins de statistiques. Une fois la conversation terminée, vous pouvez en \
supprimer les messages immédiatement. Cette page ne garde rien sur votre appareil une fois \
cet onglet fermé, et la sortie rapide efface tout sur-le-champ.

Vous n'avez pas à donner votre nom, votre grade, votre unité ni aucun détail qui pourrait \
vous identifier, vous ou une autre personne, et nous ne vous les demanderons pas. Si vous \
êtes en danger en ce moment, composez le 911."""


def default_notice(lang: str, retention_days: int) -> str:
    """The notice shown before the first message when the operator has not set one."""
    if lang == "fr":
        kept = ("jusqu'à sa fin" if retention_days == 0
                else f"pendant {retention_days} jour{'s' if retention_days > 1 else ''} après sa fin")
        return _NOTICE_FR.format(kept=kept)
    kept = ("until it ends" if retention_days == 0
            else f"for {retention_days} day{'s' if retention_days != 1 else ''} after it ends")
    return _NOTICE_EN.format(kept=kept)


def public_config(settings: Settings) -> dict[str, Any]:
    """What the chat window needs to know before it opens a socket; nothing secret."""
    return {
        "crisis_line": settings.crisis_line,
        "crisis_email": settings.crisis_email,
        "exit_url": settings.exit_url,
        "notice_en": settings.notice_en or default_notice("en", settings.retention_days),
        "notice_fr": settings.notice_fr or default_notice("fr", settings.retention_days),
    }


class _StaticFiles(StaticFiles):
    """StaticFiles with the security and caching headers of the pages."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        for name, value in STATIC_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def page_routes(settings: Settings) -> list[BaseRoute]:
    """Routes for ``GET /``, ``GET /console``, ``GET /admin``, ``GET /api/public-config`` and ``/static``."""
    # Read once: the files ship with the package and do not change while it runs.
    seeker_html = (STATIC_DIR / "seeker.html").read_bytes()
    console_html = (STATIC_DIR / "console.html").read_bytes()
    admin_html = (STATIC_DIR / "admin.html").read_bytes()
    config_body = public_config(settings)

    async def seeker_page(request: Request) -> Response:
        return Response(seeker_html, media_type="text/html", headers=PAGE_HEADERS)

    async def console_page(request: Request) -> Response:
        return Response(console_html, media_type="text/html", headers=PAGE_HEADERS)

    async def admin_page(request: Request) -> Response:
        # The page is the same for everyone; what it shows follows the session (/api/me) and
        # the API refuses what the role may not do.
        return Response(admin_html, media_type="text/html", headers=PAGE_HEADERS)

    async def config_endpoint(request: Request) -> Response:
        # Service hours are read per request (cached per process, chatd/program.py): the chat
        # window shows them before its socket opens, at the first message.
        service = as_dict(await seeker_service(request.app.state.services))
        return JSONResponse({**config_body, "service": service},
                            headers={**_SECURITY_HEADERS, "Cache-Control": "no-store"})

    return [
        Route("/", seeker_page, methods=["GET"], name="seeker_page"),
        Route("/console", console_page, methods=["GET"], name="console_page"),
        Route("/admin", admin_page, methods=["GET"], name="admin_page"),
        Route("/api/public-config", config_endpoint, methods=["GET"], name="public_config"),
        Mount("/static", app=_StaticFiles(directory=STATIC_DIR), name="static"),
    ]
