"""Browser tests: the real Chromium (Debian's, driven by Playwright) against the sidebar and supervisor pages.

Fixtures: `browser` (one Chromium per test module, so no event loop outlives the browser tests), `page`,
`shot` (screenshots to artifacts/screenshots/), and the `scripted` and `real` servers of browser_harness.py.

Chromium missing is a failure, not a skip, unless ASSIST_SKIP_BROWSER=1.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from .browser_harness import CHROMIUM, SHOTS, WAIT_MS, LoopThread, RealServer, ScriptedServer


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("ASSIST_SKIP_BROWSER") == "1":
        skip = pytest.mark.skip(reason="ASSIST_SKIP_BROWSER=1: browser tests not run")
        for item in items:
            if "tests/browser/" in item.nodeid.replace(os.sep, "/"):
                item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


# -- browser ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install it (apt-get install -y chromium "
                    "fonts-noto-cjk), point ASSIST_CHROMIUM at it, or set ASSIST_SKIP_BROWSER=1 to skip "
                    "the browser tests",
                    pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.fail(f"the playwright package is missing ({exc}): pip install -e '.[test]', "
                    "or set ASSIST_SKIP_BROWSER=1", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True, timeout=30_000)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh sidebar-sized page that refuses any request off loopback (the pages must be self-contained)
    and fails the test on any JavaScript error."""
    context = browser.new_context(viewport={"width": 420, "height": 820}, locale="en-GB")
    context.set_default_timeout(WAIT_MS)
    offsite: list[str] = []

    def guard(route: Any) -> None:
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            offsite.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.js_errors = errors
    yield pg
    if request.node.stash.get(_FAILED, False):
        SHOTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(SHOTS / f"{request.node.name}-failed.png"), full_page=True)
    context.close()
    assert not offsite, f"the page tried to load off-host resources: {offsite}"
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[..., Path]:
    """shot(page) → artifacts/screenshots/<test name>.png; shot(page, "step") → <test name>-step.png."""

    def take(pg: Any, step: str = "") -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / (f"{request.node.name}-{step}.png" if step else f"{request.node.name}.png")
        pg.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    loop = LoopThread()
    server = ScriptedServer(loop).start()
    yield server
    server.stop()
    loop.stop()


@pytest.fixture
def real() -> Iterator[RealServer]:
    loop = LoopThread()
    server = RealServer(loop)
    loop.run(server.app.start(), timeout=60)
    yield server
    loop.run(server.app.stop(), timeout=30)
    loop.stop()
