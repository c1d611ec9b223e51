"""Browser tests of the pages (CONTRACT.md section 6): a real ``chatd serve`` and a real Chromium.

Each test gets its own server (a subprocess with its own data dir and port, so no queue or
shift leaks between tests) with three accounts: a peer, a peer whose display name is an
XSS payload, and a supervisor. Chromium is Debian's ``/usr/bin/chromium``, driven by the
sync Playwright API; ``playwright install`` is never needed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pagehelpers import (
    ACCOUNTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    EXIT_URL,
    PASSWORD,
    SERVER_START_S,
    TIME_FACTOR,
    WAIT_MS,
    Account,
    ChatdServer,
)

# ---- the module-level check: no Chromium means a loud skip, or a failure in CI ----

_HOW_TO_INSTALL = (
    f"Chromium was not found at {CHROMIUM}. The browser tests of the pages need Debian's Chromium: "
    "run `sudo apt-get install chromium` (never `playwright install`). "
    "In CI (CI=true) a missing Chromium fails these tests instead of skipping them."
)
CHROMIUM_MISSING = not CHROMIUM.exists()
IN_CI = os.environ.get("CI") == "true"


def pytest_report_header(config: pytest.Config) -> str | None:
    if CHROMIUM_MISSING:
        return "!!! BROWSER TESTS SKIPPED !!! " + _HOW_TO_INSTALL
    return None


@pytest.fixture(autouse=True)
def _chromium_required() -> None:
    if CHROMIUM_MISSING:
        if IN_CI:
            pytest.fail(_HOW_TO_INSTALL)
        pytest.skip(_HOW_TO_INSTALL)


# ---- the server ----


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server_env(data_dir: Path, port: int, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATD_", "TWILIO_"))}
    env.update({
        "CHATD_DATA_DIR": str(data_dir),
        "CHATD_HOST": "127.0.0.1",
        "CHATD_PORT": str(port),
        "CHATD_LOG_FORMAT": "console",
        "CHATD_EXIT_URL": EXIT_URL,
        "CHATD_DEMO_ACCOUNT": "0",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def _add_account(env: dict[str, str], cwd: Path, account: Account) -> None:
    cmd = [sys.executable, "-m", "chatd", "supporters", "add", account.username,
           "--display-name", account.display_name, "--trained", "--role", account.role, "--password-stdin"]
    done = subprocess.run(cmd, input=PASSWORD + "\n", env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=60 * TIME_FACTOR, check=False)
    if done.returncode != 0:
        pytest.fail(f"`{' '.join(cmd)}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def _wait_ready(url: str, proc: subprocess.Popen[bytes], server: ChatdServer) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"chatd serve exited with {proc.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as res:
                if res.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    pytest.fail(f"chatd serve was not ready within {SERVER_START_S} s:\n{server.log_tail()}")


@pytest.fixture
def server_env() -> dict[str, str]:
    """Extra environment for the server of one test (tests override this fixture or mutate it)."""
    return {}


@pytest.fixture
def server(tmp_path: Path, server_env: dict[str, str]) -> Iterator[ChatdServer]:
    data_dir = tmp_path / "data"
    port = _free_port()
    env = _server_env(data_dir, port, server_env)
    url = f"http://127.0.0.1:{port}"
    srv = ChatdServer(url=url, data_dir=data_dir, log_path=tmp_path / "chatd.log", env=env)
    for account in ACCOUNTS:
        _add_account(env, tmp_path, account)
    with srv.log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "chatd", "serve"], env=env, cwd=tmp_path,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(url, proc, srv)
            yield srv
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# ---- the browser ----


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if CHROMIUM_MISSING:
        pytest.skip(_HOW_TO_INSTALL)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class PageWatch:
    """What a page did that it must not: dialogs (XSS), uncaught errors, CSP violations."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def attach(self, page: Any, name: str) -> None:
        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(f"{name}: {dialog.type} {dialog.message!r}")
            dialog.dismiss()

        def on_console(msg: Any) -> None:
            if msg.type == "error" and "Content Security Policy" in msg.text:
                self.errors.append(f"{name}: CSP violation: {msg.text}")

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda exc: self.errors.append(f"{name}: uncaught: {exc}"))
        page.on("console", on_console)

    def assert_clean(self) -> None:
        assert not self.dialogs, f"a dialog opened (script ran): {self.dialogs}"
        assert not self.errors, f"page errors: {self.errors}"


@pytest.fixture
def watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
def new_page(browser: Any, server: ChatdServer, watch: PageWatch,
             request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Open a page in a fresh browser context (its own cookies and sessionStorage)."""
    contexts: list[Any] = []

    def open_page(path: str = "/", *, name: str = "page", locale: str = "en-CA",
                  viewport: dict[str, int] | None = None, bypass_csp: bool = False,
                  goto: bool = True, **options: Any) -> Any:
        context = browser.new_context(
            base_url=server.url, locale=locale, viewport=viewport or {"width": 1100, "height": 900},
            bypass_csp=bypass_csp, **options)
        contexts.append(context)
        # Quick exit leads to EXIT_URL: answer it here, so nothing leaves the machine.
        context.route("https://exit.example/**", lambda route: route.fulfill(
            status=200, content_type="text/html",
            body="<!doctype html><title>Weather</title><h1>Weather</h1>"))
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        watch.attach(page, name)
        if goto:
            page.goto(path)
        return page

    yield open_page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        print(f"--- chatd log ---\n{server.log_tail()}")
    for context in contexts:
        context.close()
    watch.assert_clean()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
