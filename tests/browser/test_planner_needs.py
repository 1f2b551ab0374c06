"""The planner page as people need it (issue 21), in a real browser against real servers:
stay signed in through a restart, never lose work (offline, reloads, removals), see
who changed what, money and budgets, a phone layout, and no serious accessibility
violations (axe-core, injected into the test run only)."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

pytest.importorskip("playwright.sync_api", reason="the Python package `playwright` is not installed")

from playwright.sync_api import Page, WebSocketRoute, expect

from tests.browser.conftest import ARTIFACTS, TIMEOUT_MS, Person, Planner, fresh_user_id, make_trip
from tests.server import ROOT, ServerProcess, token

pytestmark = pytest.mark.e2e

AXE = ROOT / "tests" / "browser" / "vendor" / "axe-core" / "axe.min.js"
DEMO_TRIP = "650000000000000000000100"
ADA = "650000000000000000000001"
PHONE = {"width": 390, "height": 844}
# "At once": well under the socket's own ping timeout (20 s) and the heartbeat (5 s).
AT_ONCE_MS = 3_000
# The heartbeat asks every 5 s: a dead network is seen within two beats, well before the
# socket's own ping would give up (20 s) and close.
HEARTBEAT_BOUND_MS = 12_000
A1, A2 = "665f00000000000000000a11", "665f00000000000000000a12"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def no_page_errors(*planners: Planner) -> None:
    for planner in planners:
        assert planner.errors == [], f"{planner.person.name}'s page threw: {planner.errors}"


def dev_server(directory: Path) -> ServerProcess:
    return ServerProcess(f"sqlite:///{directory}/events.db", args=["--dev"], env={"JWT_SECRET": ""})


def lisbon(server: ServerProcess, owner: Person, *others: Person, **more: Any) -> dict[str, Any]:
    return make_trip(
        server,
        owner,
        *others,
        **more,
        days=[
            {
                "dayId": "665f00000000000000000d11",
                "date": "2026-05-01",
                "title": "Alfama",
                "activities": [
                    {"activityId": A1, "title": "Tram 28", "startTime": "09:30", "cost": 3},
                    {"activityId": A2, "title": "Fado dinner", "startTime": "20:30", "cost": 45},
                ],
            },
            {"dayId": "665f00000000000000000d12", "date": "2026-05-02", "title": "Belém", "activities": []},
        ],
    )


@pytest.fixture
def dev_page(browser: Any, tmp_path: Path) -> Iterator[tuple[ServerProcess, Page, list[str]]]:
    server = dev_server(tmp_path).start(tmp_path)
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    urls: list[str] = []
    page.on("websocket", lambda ws: urls.append(ws.url))
    try:
        yield server, page, urls
    finally:
        context.close()
        server.stop()


def test_signing_in_is_picking_a_person_and_a_restart_signs_nobody_out(
    dev_page: tuple[ServerProcess, Page, list[str]], tmp_path: Path
) -> None:
    server, page, urls = dev_page
    page.goto(f"{server.base}/?trip={DEMO_TRIP}")
    expect(page.get_by_test_id("person-picker")).to_be_visible()
    serious = [v for v in axe_violations(page) if v["impact"] in ("serious", "critical")]
    assert serious == [], serious
    page.get_by_test_id(f"sign-in-as-{ADA}").click()
    expect(page.get_by_test_id("connection-status")).to_have_text("connected")
    expect(page.get_by_test_id("trip-title")).to_have_text("Lisbon long weekend")
    # the socket was opened with a single-use ticket: the token is in no URL
    assert urls and all("ticket=" in url and "token=" not in url for url in urls), urls

    assert server.stop() == 0
    expect(page.get_by_test_id("connection-status")).to_have_text("reconnecting…")
    restarted = dev_server(tmp_path)
    restarted.port = server.port
    restarted.start(tmp_path)
    try:
        expect(page.get_by_test_id("connection-status")).to_have_text("connected", timeout=15_000)
        expect(page.get_by_test_id("signin-panel")).to_be_hidden()
        expect(page.get_by_test_id("session-banner")).to_be_hidden()
        page.reload()
        expect(page.get_by_test_id("connection-status")).to_have_text("connected")
        expect(page.get_by_test_id("trip-title")).to_have_text("Lisbon long weekend")
        # collaborators are invited by name, from the people the server knows
        options = page.get_by_test_id("invite-person").locator("option")
        expect(options.filter(has_text="Katherine")).to_have_count(1)
        expect(page.get_by_test_id("invite-person")).not_to_contain_text(re.compile("[0-9a-f]{24}"))
        page.get_by_test_id("invite-person").select_option(label="Katherine")
        page.get_by_test_id("add-collaborator").click()
        expect(page.get_by_test_id("collaborator-650000000000000000000003")).to_contain_text("Katherine")
    finally:
        restarted.stop()


def test_on_a_dev_server_a_session_ending_or_expired_is_renewed_without_pasting_a_token(
    dev_page: tuple[ServerProcess, Page, list[str]], tmp_path: Path
) -> None:
    server, page, _ = dev_page
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    secret = (tmp_path / "dev-secret").read_text().strip()  # the one `--dev` keeps beside its store

    def ada_for(seconds: int) -> str:
        claims = {"sub": ADA, "role": "user", "name": "Ada", "exp": int(time.time()) + seconds}
        return str(jwt.encode(claims, secret, algorithm="HS256"))

    # expired: one button signs Ada in again, no token to paste
    page.goto(f"{server.base}/?token={ada_for(6)}&trip={DEMO_TRIP}")
    expect(page.get_by_test_id("connection-status")).to_have_text("connected")
    expect(page.get_by_test_id("session-banner")).to_contain_text("Your session expired", timeout=20_000)
    expect(page.get_by_test_id("session-action")).to_have_text("Sign in again")
    page.get_by_test_id("session-action").click()
    expect(page.get_by_test_id("connection-status")).to_have_text("connected")
    expect(page.get_by_test_id("session-banner")).to_be_hidden()
    expect(page.get_by_test_id("token-dialog")).to_be_hidden()
    expect(page.get_by_test_id("trip-title")).to_have_text("Lisbon long weekend")

    # ending (within the 30 s warning): "Stay signed in" refreshes the session over its socket
    page.goto(f"{server.base}/?token={ada_for(25)}&trip={DEMO_TRIP}")
    page.get_by_test_id("toast-refresh-token").click()
    expect(page.get_by_test_id("toast-refresh-token")).to_have_count(0)
    expect(page.get_by_test_id("token-dialog")).to_be_hidden()
    # the toast goes at the click; the server's answer comes a round trip later
    answered_by = time.monotonic() + 10
    while not any('"token_refreshed"' in frame for frame in frames):
        assert time.monotonic() < answered_by, frames[-5:]
        page.wait_for_timeout(50)  # Playwright's events are handled while it waits
    expect(page.get_by_test_id("connection-status")).to_have_text("connected")


class SilentSocket:
    """Holds the page's sockets: while blocked they open but the server never answers."""

    def __init__(self) -> None:
        self.blocked = True
        self.held: list[WebSocketRoute] = []

    def route(self, ws: WebSocketRoute) -> None:
        if self.blocked:
            self.held.append(ws)
        else:
            ws.connect_to_server()

    def let_through(self) -> None:
        self.blocked = False
        for ws in self.held:
            ws.close(code=1006, reason="test: let the page reconnect")


def test_offline_is_seen_at_once_and_unsent_edits_and_drafts_survive_a_reload(
    server: ServerProcess, open_planner: Any
) -> None:
    ana = Person("Ana")
    trip = lisbon(server, ana)
    a = open_planner(server, ana, trip["tripId"])
    day = "665f00000000000000000d12"

    a.context.set_offline(True)
    expect(a.by("connection-status")).to_have_text("offline", timeout=AT_ONCE_MS)
    expect(a.by("offline-banner")).to_be_visible()

    a.by(f"add-activity-title-{day}").fill("Jerónimos Monastery")
    a.by(f"add-activity-start-{day}").fill("10:00")
    a.by(f"add-activity-cost-{day}").fill("12")
    a.by(f"add-activity-{day}").click()
    added = a.page.locator(f'[data-testid="activity-list-{day}"] > li.activity')
    expect(added).to_have_count(1)
    expect(added).to_contain_text("Jerónimos Monastery")
    expect(added).to_contain_text("not synced yet")
    a.by("chat-input").fill("Draft: shall we take the train back?")

    # the tab warns before it goes, and the reload finds everything where it was
    gate = SilentSocket()
    a.context.route_web_socket("**/ws?*", gate.route)
    a.context.set_offline(False)
    dialogs: list[str] = []
    a.page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.accept()))
    a.page.reload()
    assert dialogs == ["beforeunload"], dialogs
    expect(added).to_contain_text("Jerónimos Monastery")
    expect(added).to_contain_text("not synced yet")
    expect(a.by("chat-input")).to_have_value("Draft: shall we take the train back?")

    # back on the network: the edit lands once, and the mark goes
    gate.let_through()
    expect(a.by("connection-status")).to_have_text("connected", timeout=15_000)
    expect(added).not_to_contain_text("not synced yet")
    status, state = server.request("GET", f"/api/trips/{trip['tripId']}", bearer=ana.token)
    assert status == 200
    belem = next(d for d in state["days"] if d["dayId"] == day)
    assert [x["title"] for x in belem["activities"]] == ["Jerónimos Monastery"], belem
    no_page_errors(a)


class DyingWire:
    """Carries the page's socket to the server until the network 'dies': then the socket
    stays open on both ends and nothing more passes, as when a Wi-Fi drops silently."""

    def __init__(self) -> None:
        self.alive = True
        self.lost_handshakes = 0  # sockets whose first frame from the server the dead network lost

    def route(self, ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        heard = False

        def to_page(message: str | bytes) -> None:
            nonlocal heard
            if self.alive:
                ws.send(message)
            elif not heard:
                self.lost_handshakes += 1
            heard = True

        ws.on_message(lambda message: server.send(message) if self.alive else None)
        server.on_message(to_page)


def silently_cut_off(server: ServerProcess, open_planner: Any) -> tuple[Planner, DyingWire, Person]:
    """Ana's planner, whose network then dies without telling the browser (no offline event,
    the socket still open, /healthz unreachable: only the heartbeat can tell), once it is offline."""
    ana = Person("Ana")
    trip = lisbon(server, ana)
    wire = DyingWire()
    a = open_planner(server, ana, trip["tripId"], route=wire.route)
    wire.alive = False
    a.page.route("**/healthz", lambda route: route.abort())
    expect(a.by("connection-status")).to_have_text("offline", timeout=HEARTBEAT_BOUND_MS)
    return a, wire, ana


def reconnected(a: Planner, wire: DyingWire) -> None:
    """The network comes back: the page is connected again, its banner gone."""
    wire.alive = True
    a.page.unroute("**/healthz")
    expect(a.by("connection-status")).to_have_text("connected", timeout=HEARTBEAT_BOUND_MS)
    expect(a.by("offline-banner")).to_be_hidden()


def test_a_network_that_dies_without_telling_the_browser_is_seen_by_the_heartbeat(
    server: ServerProcess, open_planner: Any
) -> None:
    a, wire, ana = silently_cut_off(server, open_planner)
    expect(a.by("offline-banner")).to_be_visible()
    expect(a.by("user-chip").locator(".status-dot")).to_have_class(re.compile(r"\bstatus-offline\b"))
    assert a.page.evaluate("navigator.onLine") is True
    here = a.by(f"member-{ana.user_id}").locator(".member-status")
    expect(here).to_have_text("last seen online")  # what was last known, said so: not "online"

    reconnected(a, wire)
    expect(a.by("user-chip").locator(".status-dot")).to_have_class(re.compile(r"\bstatus-online\b"))
    expect(here).to_have_text("online")
    no_page_errors(a)


def test_a_reconnect_made_through_the_dead_network_does_not_keep_the_page_reconnecting_once_it_is_back(
    server: ServerProcess, open_planner: Any
) -> None:
    a, wire, _ = silently_cut_off(server, open_planner)
    # the page tries again while the network is still dead: the upgrade goes through, and the
    # server's `connected` is lost on the way (no frame, no error, no close reach the page)
    waited_until = time.monotonic() + HEARTBEAT_BOUND_MS / 1000
    while wire.lost_handshakes == 0:
        assert time.monotonic() < waited_until, "the page did not try to connect again"
        a.page.wait_for_timeout(100)  # Playwright's events are handled while it waits

    reconnected(a, wire)
    no_page_errors(a)


def test_disconnected_by_an_administrator_the_page_says_so_and_reconnects_at_one_click(
    server: ServerProcess, open_planner: Any
) -> None:
    ana = Person("Ana")
    trip = lisbon(server, ana)
    a = open_planner(server, ana, trip["tripId"])

    status, _ = server.request(
        "POST", f"/api/realtime/disconnect/{ana.user_id}", bearer=token(fresh_user_id(), role="admin", name="Ops")
    )
    assert status == 200
    expect(a.by("session-text")).to_have_text("An administrator disconnected you.")
    expect(a.by("connection-status")).to_have_text("offline")
    expect(a.by("connection-status")).to_have_attribute("data-state", "kicked")
    expect(a.by("reconnect-banner")).to_be_hidden()  # it does not come back by itself
    a.by("session-action").click()
    expect(a.by("connection-status")).to_have_text("connected")
    expect(a.by("session-banner")).to_be_hidden()
    no_page_errors(a)


def test_what_was_sent_leaves_its_field_at_once_and_after_a_reload(server: ServerProcess, open_planner: Any) -> None:
    ana = Person("Ana")
    trip = lisbon(server, ana)
    a = open_planner(server, ana, trip["tripId"])
    day = "665f00000000000000000d12"

    a.by(f"add-activity-title-{day}").fill("Jerónimos Monastery")
    a.by(f"add-activity-cost-{day}").fill("12")
    a.by(f"add-activity-{day}").click()
    added = a.page.locator(f'[data-testid="activity-list-{day}"] > li.activity')
    expect(added).to_have_count(1)
    expect(added).not_to_contain_text("not synced yet")
    expect(a.by(f"add-activity-title-{day}")).to_have_value("")
    expect(a.by(f"add-activity-cost-{day}")).to_have_value("")
    a.by("chat-input").fill("Booked the monastery")
    a.by("chat-input").press("Enter")
    expect(a.chat_messages).to_have_count(1)
    expect(a.chat_messages).not_to_have_class(re.compile(r"is-pending|is-queued"))
    expect(a.by("chat-input")).to_have_value("")

    # what is typed and not sent comes back after a reload; nothing already sent does
    a.by("add-day-title").fill("Sintra")
    a.page.reload()
    expect(a.by("connection-status")).to_have_text("connected")
    expect(a.by("add-day-title")).to_have_value("Sintra")
    expect(a.by("chat-input")).to_have_value("")
    expect(a.by(f"add-activity-title-{day}")).to_have_value("")
    expect(a.by(f"add-activity-cost-{day}")).to_have_value("")
    no_page_errors(a)


def test_removing_a_day_is_confirmed_can_be_undone_and_is_announced_to_the_others(
    server: ServerProcess, open_planner: Any
) -> None:
    ana, ben = Person("Ana"), Person("Ben")
    trip = lisbon(server, ana, ben)
    a = open_planner(server, ana, trip["tripId"])
    b = open_planner(server, ben, trip["tripId"])
    day = "665f00000000000000000d11"

    # a day with two activities: asked first; "Keep it" keeps it
    a.by(f"remove-day-{day}").click()
    expect(a.by("confirm-dialog")).to_be_visible()
    expect(a.by("confirm-text")).to_contain_text("Fri 1 May 2026 (Alfama) and its 2 activities")
    expect(a.by("confirm-no")).to_be_focused()
    a.by("confirm-no").click()
    expect(a.by(f"day-{day}")).to_be_visible()
    expect(a.by(f"remove-day-{day}")).to_be_focused()

    # removed, then undone within the undo time: nothing reaches the others
    a.by(f"remove-day-{day}").click()
    a.by("confirm-yes").click()
    expect(a.by(f"day-{day}")).to_have_count(0)
    a.by("toast-undo").click()
    expect(a.by(f"day-{day}")).to_be_visible()
    expect(b.by(f"day-{day}")).to_be_visible()
    sent = [f for f in a.frames_sent if '"day_removed"' in f]
    assert sent == [], sent

    # removed for good: the others are told who removed what
    a.by(f"remove-day-{day}").click()
    a.by("confirm-yes").click()
    expect(b.by(f"day-{day}")).to_have_count(0, timeout=15_000)
    notice = "Ana removed Fri 1 May 2026 · Alfama · 2 activities"
    expect(b.by("toast-removed")).to_contain_text(notice)
    expect(b.by("live-region")).to_have_text(notice)
    no_page_errors(a, b)


def test_others_changes_flash_with_their_name_and_the_avatars_of_people_editing_show(
    server: ServerProcess, open_planner: Any
) -> None:
    ana, ben = Person("Ana"), Person("Ann")  # the same initials
    trip = lisbon(server, ana, ben)
    a = open_planner(server, ana, trip["tripId"])
    b = open_planner(server, ben, trip["tripId"])
    activity = "665f00000000000000000a11"

    b.by(f"rename-activity-{activity}").click()
    b.by(f"activity-title-input-{activity}").fill("Tram 28 to Graça")
    b.by(f"activity-title-input-{activity}").press("Enter")
    expect(a.by(f"activity-title-{activity}")).to_have_text("Tram 28 to Graça")
    expect(a.by(f"changed-by-{activity}")).to_have_text("Ann · just now")
    expect(a.by("live-region")).to_contain_text("Ann renamed “Tram 28” to “Tram 28 to Graça”")
    expect(a.by(f"changed-by-{activity}")).to_have_count(0, timeout=15_000)  # the flash fades

    # the avatar of a person editing sits on the item they have open, and goes when they close it
    a.by(f"edit-activity-{A2}").click()
    expect(b.by(f"viewers-{A2}")).to_contain_text("Ana has this open")
    expect(b.by(f"viewers-{A2}").locator(".avatar")).to_have_count(1)
    a.by(f"activity-cancel-{A2}").click()
    expect(b.by(f"viewers-{A2}")).to_have_count(0)

    labels = [a.by(f"member-{p.user_id}").locator(".avatar").inner_text() for p in (ana, ben)]
    colours = [
        a.by(f"member-{p.user_id}").locator(".avatar").evaluate("e => getComputedStyle(e).backgroundColor")
        for p in (ana, ben)
    ]
    assert labels[0] != labels[1] and colours[0] != colours[1], (labels, colours)
    # the same look wherever a person shows: the header, the chat
    expect(a.by("user-chip").locator(".avatar")).to_have_text(labels[0])
    b.by("chat-input").fill("Tram first, then lunch?")
    b.by("chat-send").click()
    expect(a.page.locator('[data-testid="chat-log"] .avatar')).to_have_text(labels[1])
    # names and words on screen, never ids or version numbers
    text = a.page.locator("body").inner_text()
    assert not re.search(r"\b[0-9a-f]{24}\b", text), text
    assert not re.search(r"\bv\d+\b|\bseq\b", text), text
    no_page_errors(a, b)


def test_costs_add_up_per_day_and_trip_and_going_over_budget_warns(server: ServerProcess, open_planner: Any) -> None:
    ana = Person("Ana")
    trip = lisbon(server, ana)
    a = open_planner(server, ana, trip["tripId"])
    d1, d2 = "665f00000000000000000d11", "665f00000000000000000d12"

    a.page.locator('[data-testid="add-constraint-panel"] > summary').click()
    a.by("constraint-kind").select_option("budget")
    a.by("constraint-amount").fill("100")
    a.by("constraint-currency").select_option("EUR")
    a.by("add-constraint").click()
    a.by("constraint-kind").select_option("daily_budget")
    a.by("constraint-amount").fill("40")
    a.by("add-constraint").click()
    expect(a.page.locator('[data-testid="constraint-list"] > li.constraint')).to_have_count(2)
    expect(a.by("constraint-list")).to_contain_text("Trip budget€100.00")
    expect(a.by("trip-total")).to_have_text("€48.00 planned")
    expect(a.by("budget-of")).to_have_text("of a €100.00 budget")
    expect(a.by(f"day-total-{d1}")).to_contain_text("over the €40.00 daily limit")
    expect(a.by("budget-warning")).to_have_text("Warning: One day goes over the daily limit.")

    a.by(f"add-activity-title-{d2}").fill("Dinner at Belcanto")
    a.by(f"add-activity-cost-{d2}").fill("60")
    a.by(f"add-activity-{d2}").click()
    expect(a.by("trip-total")).to_have_text("€108.00 planned")
    expect(a.by("budget-warning")).to_contain_text("Over budget by €8.00.")
    expect(a.by("budget-warning")).to_contain_text("2 days go over the daily limit.")

    # times and dates are checked before anything is sent
    a.by(f"add-activity-title-{d2}").fill("Sunset")
    a.by(f"add-activity-start-{d2}").fill("19:00")
    a.by(f"add-activity-end-{d2}").fill("18:00")
    a.by(f"add-activity-{d2}").click()
    expect(a.by("toast-area")).to_contain_text("before it starts")
    a.by("add-day-date").fill("2026-05-01")
    a.by("add-day").click()
    expect(a.by("toast-area")).to_contain_text("There is already a day on 2026-05-01")
    expect(a.page.locator('[data-testid="day-list"] > li.day')).to_have_count(2)
    no_page_errors(a)


def phone_planner(browser: Any, server: ServerProcess, person: Person, trip_id: str) -> Page:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page: Page = context.new_page()
    page.goto(f"{server.base}/?token={person.token}&trip={trip_id}")
    expect(page.get_by_test_id("connection-status")).to_have_text("connected")
    return page


def test_on_a_phone_the_itinerary_is_the_first_screen_with_tabs_and_44px_targets(
    server: ServerProcess, browser: Any
) -> None:
    ana, ben = Person("Ana"), Person("Ben")
    trip = lisbon(server, ana, ben)
    page = phone_planner(browser, server, ana, trip["tripId"])
    try:
        first = page.get_by_test_id("activity-665f00000000000000000a11")
        expect(first).to_be_in_viewport()
        box = first.evaluate("e => e.getBoundingClientRect().toJSON()")  # waits for the row, even if redrawn
        assert box["y"] + box["height"] <= PHONE["height"] and box["height"] <= 90, box
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"horizontal scroll: {width}px wide"
        expect(page.get_by_test_id("phone-tabs")).to_be_visible()
        expect(page.get_by_test_id("chat-panel")).to_be_hidden()

        page.get_by_test_id("tab-chat").click()
        expect(page.get_by_test_id("chat-input")).to_be_in_viewport()
        expect(page.get_by_test_id("board")).to_be_hidden()
        page.get_by_test_id("tab-people").click()
        expect(page.get_by_test_id(f"member-{ana.user_id}")).to_be_visible()
        page.get_by_test_id("tab-itinerary").click()

        # a compact row: its actions sit behind a menu
        expect(page.get_by_test_id("remove-activity-665f00000000000000000a11")).to_be_hidden()
        page.get_by_test_id("activity-menu-665f00000000000000000a11").click()
        expect(page.get_by_test_id("remove-activity-665f00000000000000000a11")).to_be_visible()

        assert small_targets(page) == []
        # the chat tab too, with a message and its reactions, edit and delete
        page.get_by_test_id("tab-chat").click()
        page.get_by_test_id("chat-input").fill("Tram at 9?")
        page.get_by_test_id("chat-send").click()
        expect(page.locator('[data-testid^="chat-react-"]')).to_have_count(4)
        assert small_targets(page) == []
        page.get_by_test_id("tab-itinerary").click()
        # a budget set on the phone: costs read in its currency
        page.locator('[data-testid="add-constraint-panel"] > summary').click()
        page.get_by_test_id("constraint-amount").fill("300")
        page.get_by_test_id("add-constraint").click()
        page.locator('[data-testid="add-constraint-panel"] > summary').click()
        expect(page.get_by_test_id("activity-cost-665f00000000000000000a11")).to_have_text("€3.00")

        ARTIFACTS.mkdir(exist_ok=True)
        page.get_by_test_id("activity-menu-665f00000000000000000a11").click()
        page.evaluate("document.activeElement?.blur(); window.scrollTo(0, 0)")
        page.mouse.move(0, 0)  # no hover left on a button from the last tap
        expect(page.get_by_test_id("trip-total")).to_have_text("€48.00 planned")
        page.screenshot(path=str(ARTIFACTS / "planner-phone.png"), animations="disabled", caret="hide")
    finally:
        page.context.close()


def small_targets(page: Page) -> list[str]:
    """The visible controls smaller than 44 x 44 px (a phone's tap target)."""
    found = page.evaluate(
        """() => [...document.querySelectorAll('button, select, input, summary, a[href]')]
            .filter((e) => e.offsetParent !== null && getComputedStyle(e).visibility !== 'hidden')
            .map((e) => [e.dataset.testid || e.textContent.trim().slice(0, 20), e.getBoundingClientRect()])
            .filter(([, r]) => r.width > 0 && (r.height < 44 || (r.width < 44 && r.height < 44)))
            .map(([name, r]) => `${name} ${Math.round(r.width)}x${Math.round(r.height)}`)"""
    )
    return list(found)


def repeated_control_names(page: Page) -> dict[str, int]:
    """Visible controls that share a name (two "Remove" buttons that do not say what they remove)."""
    names = page.evaluate(
        """() => [...document.querySelectorAll('button, select, a[href], summary, input, textarea')]
            .filter((e) => e.offsetParent !== null)
            .map((e) => e.getAttribute('aria-label') || e.labels?.[0]?.textContent.trim()
                || e.textContent.trim() || e.placeholder || '')"""
    )
    return {name: count for name, count in Counter(names).items() if count > 1}


def axe_violations(page: Page) -> list[dict[str, Any]]:
    # evaluated by the test harness, not added to the page: the page's strict CSP refuses inline scripts
    page.evaluate(AXE.read_text())
    result = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, { runOnly: { type: 'tag', values: tags } });
            return r.violations.map((v) => ({
                id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5),
            }));
        }""",
        WCAG_AA,
    )
    return list(result)


def test_axe_finds_no_serious_or_critical_violations(server: ServerProcess, open_planner: Any, browser: Any) -> None:
    ana, ben = Person("Ana"), Person("Ben")
    trip = lisbon(server, ana, ben)
    a = open_planner(server, ana, trip["tripId"])
    b = open_planner(server, ben, trip["tripId"])
    b.by("chat-input").fill("Fado on Friday?")  # a chat message with its reactions is checked too
    b.by("chat-send").click()
    expect(a.page.locator('[data-testid^="chat-react-"]')).to_have_count(4)
    a.page.locator('[data-testid^="chat-react-"]').first.click()
    expect(a.page.locator('[data-testid^="chat-reaction-"]')).to_have_count(1)
    a.by(f"rename-activity-{'665f00000000000000000a11'}").click()  # an open editor is checked too
    expect(a.page.locator("h1:visible")).to_have_count(1)
    assert repeated_control_names(a.page) == {}
    found = {"desktop": axe_violations(a.page)}
    phone = phone_planner(browser, server, ben, trip["tripId"])
    try:
        found["phone"] = axe_violations(phone)
        phone.get_by_test_id("tab-chat").click()
        expect(phone.locator('[data-testid^="chat-reaction-"]')).to_have_count(1)
        found["phone chat"] = axe_violations(phone)
    finally:
        phone.context.close()
    serious = {where: [v for v in vs if v["impact"] in ("serious", "critical")] for where, vs in found.items()}
    assert serious == {"desktop": [], "phone": [], "phone chat": []}, json.dumps(serious, indent=1)
