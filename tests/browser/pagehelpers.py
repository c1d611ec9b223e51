"""Constants and page helpers shared by the browser tests (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

CHROMIUM = Path(os.environ.get("CHATD_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
VENDOR = Path(__file__).parent / "vendor"
AXE_JS = VENDOR / "axe.min.js"
REPO = Path(__file__).resolve().parents[2]

# Timing constants scale with this factor on slow machines (CHATD_TEST_TIME_FACTOR=3).
TIME_FACTOR = float(os.environ.get("CHATD_TEST_TIME_FACTOR", "1"))
WAIT_MS = 10_000 * TIME_FACTOR
SERVER_START_S = 30 * TIME_FACTOR

# Quick exit goes here; the tests answer it themselves, so no request leaves the machine.
EXIT_URL = "https://exit.example/weather"
NEUTRAL_START_URL = "https://exit.example/start"

expect.set_options(timeout=WAIT_MS)

PASSWORD = "correct horse battery staple"
XSS = "<img src=x onerror=alert(1)>"


@dataclass(frozen=True)
class Account:
    username: str
    display_name: str
    role: str = "peer"


@dataclass
class ChatdServer:
    """A running ``python -m chatd serve`` and what the tests need to reach it."""

    url: str
    data_dir: Path
    log_path: Path
    env: dict[str, str] = field(repr=False)

    def log_tail(self, lines: int = 80) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


PEER = Account("pat", "Pat")
XSS_PEER = Account("xavier", f"Xavier {XSS}")
SUPERVISOR = Account("sam", "Sam Supervisor", "supervisor")
ACCOUNTS = (PEER, XSS_PEER, SUPERVISOR)

def login(page: Any, account: Account, password: str = PASSWORD) -> None:
    """Sign in on /console and wait until the console is shown."""
    page.fill("#login-username", account.username)
    page.fill("#login-password", password)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#app-view")).to_be_visible()


def start_shift(page: Any, capacity: int = 2) -> None:
    page.select_option("#capacity", str(capacity))
    page.click("#shift-start")
    expect(page.locator("#shift-state")).to_have_attribute("data-state", "on")


def seeker_send(page: Any, text: str) -> None:
    page.fill("#composer-text", text)
    page.press("#composer-text", "Enter")


def accept_offer(peer: Any) -> Any:
    """Accept the offer on screen; returns the locator of the conversation's panel."""
    offer = peer.locator(".offer").first
    expect(offer).to_be_visible()
    offer.get_by_role("button", name="Accept").click()
    panel = peer.locator(".panel:not([hidden])")
    expect(panel).to_be_visible()
    return panel


def screenshot(page: Any, name: str, *, full_page: bool = False) -> None:
    """Save docs/screenshots/<name>.png when CHATD_SCREENSHOTS=1 (docs/pages.md shows them)."""
    if os.environ.get("CHATD_SCREENSHOTS") != "1":
        return
    out = REPO / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / f"{name}.png"), full_page=full_page, animations="disabled")


def axe_violations(page: Any, *, exclude_minor: bool = True) -> list[dict[str, Any]]:
    """Run axe-core (vendored) on the page: the serious and critical WCAG 2.1 A/AA violations."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
            resultTypes: ['violations'],
        });
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ') + ' :: ' + n.failureSummary)}));
    }""")
    violations: list[dict[str, Any]] = result
    if exclude_minor:
        violations = [v for v in violations if v["impact"] in ("serious", "critical")]
    return violations


def format_violations(violations: list[dict[str, Any]]) -> str:
    return json.dumps(violations, indent=2, ensure_ascii=False)
