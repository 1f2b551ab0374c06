"""Browser tests: Playwright's sync API driving Debian's Chromium against real server processes.

The browser is never downloaded (no ``playwright install``): it is Debian's
``/usr/bin/chromium``, which ``scripts/test.sh`` installs with apt when missing.
Without it (or without the ``playwright`` package) these tests skip and say why.

Everything here is synchronous on purpose: Playwright's sync API cannot run
inside an asyncio loop, so no test or fixture in this folder is ``async``.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.server import ROOT, ServerProcess, token

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 900}
ARTIFACTS = ROOT / "test-artifacts"
# Auto-waiting assertions and actions give up after this (never a sleep): enough
# for a loaded CI machine, and a passing run never waits for it.
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for a module; every test makes its own contexts."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"Debian's Chromium is not installed at {CHROMIUM}; scripts/test.sh installs it with "
            "`apt-get install chromium`, which was not possible here"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the Python package `playwright` is not installed (requirements-dev.txt)"
    )
    sync_api.expect.set_options(timeout=TIMEOUT_MS)
    manager = sync_api.sync_playwright().start()
    try:
        chromium = manager.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        manager.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A real server on a fresh SQLite store in ``tmp_path``."""
    proc = ServerProcess(f"sqlite:///{tmp_path}/events.db").start(tmp_path)
    try:
        yield proc
    finally:
        proc.stop()


_ids = itertools.count(1)


def fresh_user_id() -> str:
    """A new ObjectId-shaped user id that looks like a real one (it shows on the page)."""
    return hashlib.sha1(f"planner-{next(_ids)}".encode()).hexdigest()[:24]


@dataclass
class Person:
    name: str
    user_id: str = field(default_factory=fresh_user_id)

    @property
    def token(self) -> str:
        return token(self.user_id, name=self.name)


@dataclass
class Planner:
    """One user's page in its own browser context (own storage, own socket)."""

    person: Person
    context: Any
    page: Any
    errors: list[str]
    frames_sent: list[str]
    frames_received: list[str]

    def by(self, testid: str) -> Any:
        return self.page.get_by_test_id(testid)

    @property
    def chat_messages(self) -> Any:
        return self.page.locator('[data-testid="chat-log"] [data-testid^="chat-message-"]')


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


def _leave_evidence(name: str, planners: list[Planner]) -> None:
    """After a failure: a screenshot of every page and the last frames each one saw."""
    folder = ARTIFACTS / "failures"
    folder.mkdir(parents=True, exist_ok=True)
    for planner in planners:
        label = f"{name}-{planner.person.name}"
        with contextlib.suppress(Exception):
            planner.page.screenshot(path=str(folder / f"{label}.png"))
        print(f"--- {label}: page errors {planner.errors}")
        print("sent:", *planner.frames_sent[-15:], sep="\n  ")
        print("received:", *planner.frames_received[-25:], sep="\n  ")
        with contextlib.suppress(Exception):
            print("toasts:", planner.page.get_by_test_id("toast-area").inner_text(timeout=500))


@pytest.fixture
def open_planner(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., Planner]]:
    """Open the page as a user, signed in by ``?token=`` and on the trip by ``&trip=``."""
    from playwright.sync_api import expect

    contexts: list[Any] = []
    planners: list[Planner] = []

    def open_(
        server: ServerProcess, person: Person, trip_id: str, *, route: Callable[[Any], None] | None = None
    ) -> Planner:
        context = browser.new_context(
            viewport=VIEWPORT, device_scale_factor=1, locale="en-GB", timezone_id="Europe/Lisbon"
        )
        contexts.append(context)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        planner = Planner(person, context, page, [], [], [])
        planners.append(planner)
        page.on("pageerror", lambda err: planner.errors.append(str(err)))
        page.on(  # what the Content-Security-Policy blocked (the page must need nothing it forbids)
            "console",
            lambda msg: planner.errors.append(msg.text) if "Content Security Policy" in msg.text else None,
        )

        def watch(ws: Any) -> None:
            ws.on("framesent", lambda payload: planner.frames_sent.append(str(payload)))
            ws.on("framereceived", lambda payload: planner.frames_received.append(str(payload)))

        page.on("websocket", watch)
        if route is not None:
            page.route_web_socket("**/ws?*", route)
        page.goto(f"{server.base}/?token={person.token}&trip={trip_id}")
        expect(planner.by("connection-status")).to_have_text("connected")
        expect(planner.by(f"member-{person.user_id}")).to_be_visible()
        return planner

    try:
        yield open_
    finally:
        if request.node.stash.get(_FAILED, False):
            _leave_evidence(request.node.name, planners)
        for context in contexts:
            with contextlib.suppress(Exception):
                context.close()


def make_trip(server: ServerProcess, owner: Person, *collaborators: Person, **body: Any) -> dict[str, Any]:
    status, trip = server.request(
        "POST",
        "/api/trips",
        body={"title": "Lisbon long weekend", "collaborators": [c.user_id for c in collaborators], **body},
        bearer=owner.token,
    )
    assert status == 201, trip
    return dict(trip)
