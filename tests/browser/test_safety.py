"""Safety of the pages: typed text is never markup, CSP and headers, no third-party request."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from pagehelpers import (
    SUPERVISOR,
    XSS,
    XSS_PEER,
    ChatdServer,
    accept_offer,
    login,
    seeker_send,
    start_shift,
)
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]

STATIC = Path(__file__).resolve().parents[2] / "chatd" / "static"
CSP = ("default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=10) as res:
        return res.status, {k.lower(): v for k, v in res.headers.items()}, res.read()


def test_typed_text_is_shown_as_text_and_never_runs(new_page: Any, server: ChatdServer) -> None:
    """<img onerror> in messages (both ways), a note, a whisper and a display name: shown
    literally, no element created, no dialog (the watch fixture fails the test on one)."""
    requests: list[str] = []
    seeker = new_page("/", name="seeker", goto=False)
    seeker.on("request", lambda r: requests.append(r.url))
    seeker.goto("/")
    xavier = new_page("/console", name="xavier")
    xavier.on("request", lambda r: requests.append(r.url))
    login(xavier, XSS_PEER)
    expect(xavier.locator("#whoami")).to_have_text(f"{XSS_PEER.display_name} (peer)")
    start_shift(xavier)

    seeker_send(seeker, f"seeker says {XSS}")
    panel = accept_offer(xavier)
    expect(seeker.locator("#status")).to_have_text(f"You are chatting with {XSS_PEER.display_name}.")
    expect(panel.locator("li.msg-seeker .msg-text")).to_have_text(f"seeker says {XSS}")

    panel.locator(".composer-text").fill(f"peer says {XSS}")
    panel.locator(".composer-text").press("Enter")
    expect(seeker.locator("li.msg-peer .msg-text")).to_have_text(f"peer says {XSS}")

    panel.locator(".notes summary").click()
    panel.locator(".note-text").fill(f"note {XSS}")
    panel.locator(".note-form button[type=submit]").click()
    expect(panel.locator(".note-text-body")).to_have_text(f"note {XSS}")
    expect(panel.locator(".note-from").first).to_contain_text(XSS_PEER.display_name)

    sam = new_page("/console", name="sam")
    login(sam, SUPERVISOR)
    conversation = panel.get_attribute("data-conversation")
    assert conversation
    sam.fill("#monitor-id", conversation)
    sam.get_by_role("button", name="Monitor", exact=True).click()
    monitor = sam.locator(".panel[data-kind='monitor']")
    expect(monitor.locator("li.msg-seeker .msg-text")).to_have_text(f"seeker says {XSS}")
    monitor.locator(".composer-text").fill(f"whisper {XSS}")
    monitor.get_by_role("button", name="Whisper").click()
    expect(panel.locator(".note-text-body").last).to_have_text(f"whisper {XSS}")
    expect(sam.locator("#ov-peers")).to_contain_text(XSS_PEER.display_name, timeout=20_000)

    for page in (seeker, xavier, sam):
        assert page.locator("img").count() == 0, "a typed <img> became an element"
    origin = server.url
    foreign = [u for u in requests if not (u.startswith(origin) or u.startswith("data:"))]
    assert not foreign, f"requests left the origin: {foreign}"


def test_pages_are_served_with_the_security_headers(server: ChatdServer) -> None:
    for path in ("/", "/console"):
        status, headers, body = _get(server.url + path)
        assert status == 200
        assert headers["content-type"].startswith("text/html")
        assert headers["content-security-policy"] == CSP
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
        assert b"<script type=\"module\" src=\"/static/" in body
    status, headers, body = _get(server.url + "/static/seeker.js")
    assert status == 200 and headers["x-content-type-options"] == "nosniff"
    status, headers, body = _get(server.url + "/api/public-config")
    config = json.loads(body)
    assert config["crisis_line"] == "1-844-750-1648"
    assert config["crisis_email"] == "DND.SMRC-CIIS.MDN@forces.gc.ca"
    assert config["exit_url"] == "https://exit.example/weather"
    assert "911" in config["notice_en"] and "911" in config["notice_fr"]
    assert "30 days" in config["notice_en"]


def test_every_module_is_served_as_javascript_with_the_static_headers(server: ChatdServer) -> None:
    """The pages are ES modules in several folders: a browser runs a module only when it comes
    with a JavaScript MIME type (nosniff forbids guessing), and each must be revalidated."""
    for path in sorted(STATIC.rglob("*.js")):
        url = f"{server.url}/static/{path.relative_to(STATIC).as_posix()}"
        status, headers, _ = _get(url)
        assert status == 200, url
        assert headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript"), url
        assert headers["x-content-type-options"] == "nosniff", url
        assert headers["cache-control"] == "no-cache", url


class TestOperatorConfiguration:
    @pytest.fixture
    def server_env(self) -> dict[str, str]:
        return {"CHATD_NOTICE_EN": "Operator notice.\n\nSecond paragraph.",
                "CHATD_CRISIS_LINE": "1-800-555-0199"}

    def test_notice_and_crisis_line_come_from_the_configuration(self, new_page: Any) -> None:
        seeker = new_page("/", name="seeker")
        expect(seeker.locator("#notice-text p")).to_have_text(["Operator notice.", "Second paragraph."])
        expect(seeker.locator("#crisis-tel")).to_have_text("1-800-555-0199")
        expect(seeker.locator("#crisis-tel")).to_have_attribute("href", "tel:1-800-555-0199")
        expect(seeker.locator("#notice-text .notice-more")).to_have_count(0)  # no "---": nothing folded
        seeker.click("#lang-switch")  # no French notice configured: the default French one
        expect(seeker.locator("#notice-text")).to_contain_text("pair aidant")


class TestOperatorNoticeWithDetails:
    @pytest.fixture
    def server_env(self) -> dict[str, str]:
        return {"CHATD_NOTICE_EN": "Confidential: only the team reads it.\n\n---\n\nKept: <b>30 days</b>."}

    def test_a_configured_notice_folds_what_follows_three_dashes(self, new_page: Any) -> None:
        """What comes after a "---" paragraph is under "More details"; a short lead ending in
        a colon is bold; the text stays text."""
        seeker = new_page("/", name="seeker")
        expect(seeker.locator("#notice-text > p")).to_have_text(["Confidential: only the team reads it."])
        expect(seeker.locator("#notice-text > p > strong")).to_have_text("Confidential:")
        details = seeker.locator("#notice-text .notice-more p")
        expect(details).to_have_text("Kept: <b>30 days</b>.")
        expect(details).to_be_hidden()
        seeker.get_by_text("More details").click()
        expect(details).to_be_visible()
        expect(seeker.locator("#notice-text b")).to_have_count(0)
        assert "---" not in seeker.locator("#notice-text").inner_text()


@pytest.mark.parametrize("name", ["seeker.html", "console.html"])
def test_html_has_no_inline_script_style_or_handler(name: str) -> None:
    html = (STATIC / name).read_text()
    for script in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in script, f"inline script in {name}: {script}"
    assert not re.search(r"\son[a-z]+\s*=", html), f"inline event handler in {name}"
    assert not re.search(r"\sstyle\s*=", html), f"inline style in {name}"
    assert not re.search(r"(src|href)=\"(https?:)?//", html), f"third-party reference in {name}"


@pytest.mark.parametrize("name", sorted(str(p.relative_to(STATIC)) for p in STATIC.rglob("*.js")))
def test_scripts_never_write_markup(name: str) -> None:
    js = (STATIC / name).read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in js, f"{name} uses {sink}"


def test_default_notice_says_first_what_is_confidential_and_what_is_not() -> None:
    """Both languages open with the two statements, and fold the details after them."""
    from chatd.pages import default_notice

    for lang, first, second in (("en", "Confidential: ", "Not confidential: "),
                                ("fr", "Confidentiel\u00a0: ", "Non confidentiel\u00a0: ")):
        paragraphs = default_notice(lang, 30).split("\n\n")
        assert paragraphs[0].startswith(first) and paragraphs[1].startswith(second), paragraphs[:2]
        assert "---" in paragraphs[2:], f"{lang}: no details folded"


@pytest.mark.parametrize(("days", "en", "fr"), [
    pytest.param(30, "for 30 days after it ends", "pendant 30 jours après sa fin", id="30-days"),
    pytest.param(1, "for 1 day after it ends", "pendant 1 jour après sa fin", id="one-day"),
    pytest.param(0, "while it is open and until it ends", "jusqu'à sa fin", id="deleted-at-end"),
])
def test_default_notice_states_the_retention_period(days: int, en: str, fr: str) -> None:
    from chatd.pages import default_notice

    assert en in default_notice("en", days)
    assert fr in default_notice("fr", days)
