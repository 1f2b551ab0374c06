"""The web client in a real browser: two users, two browser contexts, one trip, one real server.

What these prove, end to end (page -> WebSocket -> server -> store -> other page):
edits, chat, typing and presence travel between two planners; a CONFLICT is shown
and resolved; a server restart mid-session loses and duplicates nothing; and a
screenshot of the board with two planners is saved as a test artefact.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api", reason="the Python package `playwright` is not installed")

from playwright.sync_api import Page, WebSocketRoute, expect

from tests.browser.conftest import ARTIFACTS, Person, Planner, make_trip
from tests.server import ServerProcess

pytestmark = pytest.mark.e2e

OpenPlanner = Callable[..., Planner]


def only_id(locator: Any, attribute: str) -> str:
    """The one element a locator names (waiting for it), and its id attribute."""
    expect(locator).to_have_count(1)
    value = locator.get_attribute(attribute)
    assert value, attribute
    return str(value)


def send_chat(planner: Planner, text: str, kind: str = "text") -> None:
    planner.by("chat-type").select_option(kind)
    planner.by("chat-input").fill(text)
    planner.by("chat-input").press("Enter")


def chat_line(planner: Planner, text: str) -> Any:
    return planner.chat_messages.filter(has_text=text)


def no_page_errors(*planners: Planner) -> None:
    for planner in planners:
        assert planner.errors == [], f"{planner.person.name}'s page threw: {planner.errors}"


def test_two_planners_see_each_others_edits_chat_typing_and_presence(
    server: ServerProcess, open_planner: OpenPlanner
) -> None:
    ana, ben = Person("Ana"), Person("Ben")
    trip = make_trip(server, ana, ben)
    a = open_planner(server, ana, trip["tripId"])
    b = open_planner(server, ben, trip["tripId"])

    # presence: each sees both in "Here now"
    for page in (a, b):
        expect(page.by("trip-title")).to_have_text("Lisbon long weekend")
        for person in (ana, ben):
            expect(page.by(f"member-{person.user_id}")).to_have_attribute("data-status", "online")

    # A adds a day: it appears in B
    a.by("add-day-date").fill("2026-05-01")
    a.by("add-day-title").fill("Alfama and the castle")
    a.by("add-day").click()
    day_id = only_id(a.page.locator('[data-testid="day-list"] > li.day'), "data-day-id")
    expect(b.by(f"day-title-{day_id}")).to_have_text("Alfama and the castle")

    # A adds an activity to it: it appears in B with its details
    a.by(f"add-activity-title-{day_id}").fill("Tram 28 to Graça")
    a.by(f"add-activity-start-{day_id}").fill("09:30")
    a.by(f"add-activity-location-{day_id}").fill("Praça Martim Moniz")
    a.by(f"add-activity-cost-{day_id}").fill("3")
    a.by(f"add-activity-{day_id}").click()
    activity_id = only_id(a.page.locator(f'[data-testid="activity-list-{day_id}"] > li.activity'), "data-activity-id")
    expect(b.by(f"activity-title-{activity_id}")).to_have_text("Tram 28 to Graça")
    expect(b.by(f"activity-{activity_id}")).to_contain_text("09:30")
    expect(b.by(f"activity-{activity_id}")).to_contain_text("Praça Martim Moniz")

    # B renames it: the new title appears in A, and both are on the same version
    b.by(f"rename-activity-{activity_id}").click()
    b.by(f"activity-title-input-{activity_id}").fill("Tram 28 up to Graça viewpoint")
    b.by(f"activity-title-input-{activity_id}").press("Enter")
    expect(a.by(f"activity-title-{activity_id}")).to_have_text("Tram 28 up to Graça viewpoint")
    expect(b.by(f"activity-title-{activity_id}")).to_have_text("Tram 28 up to Graça viewpoint")
    expect(b.by("trip-version")).to_have_text(a.by("trip-version").inner_text())

    # chat: A's suggestion reaches B styled as a suggestion
    send_chat(a, "Pastéis de nata at Manteigaria after the tram?", "suggestion")
    suggestion = chat_line(b, "Pastéis de nata at Manteigaria")
    expect(suggestion).to_have_count(1)
    expect(suggestion).to_have_attribute("data-type", "suggestion")
    expect(suggestion).to_have_class(re.compile(r"\bmsg-suggestion\b"))
    expect(suggestion).to_contain_text("Suggestion")
    expect(suggestion).to_contain_text("Ana")

    # typing: B types, A sees it; B sends, A's indicator clears and the message arrives
    expect(a.by("typing-indicator")).to_have_text("")
    b.by("chat-type").select_option("text")
    b.by("chat-input").press_sequentially("Yes please", delay=20)
    expect(a.by("typing-indicator")).to_have_text("Ben is typing…")
    b.by("chat-input").press("Enter")
    expect(chat_line(a, "Yes please")).to_have_attribute("data-type", "text")
    expect(a.by("typing-indicator")).to_have_text("")

    # presence: B steps away, A sees it
    b.by("presence-status").select_option("away")
    expect(a.by(f"member-{ben.user_id}")).to_have_attribute("data-status", "away")
    b.by("presence-status").select_option("online")
    expect(a.by(f"member-{ben.user_id}")).to_have_attribute("data-status", "online")

    # B leaves: A's member list shows only A
    b.context.close()
    expect(a.by(f"member-{ben.user_id}")).to_have_count(0)
    expect(a.by(f"member-{ana.user_id}")).to_be_visible()
    no_page_errors(a, b)


class HoldIncoming:
    """Sits in a page's WebSocket: while holding, frames from the server wait here (in order).

    The page then keeps editing from the version it last saw, exactly as if the
    other planner's change were still on its way.
    """

    def __init__(self) -> None:
        self.holding = False
        self.held: list[tuple[WebSocketRoute, str | bytes]] = []

    def route(self, ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()  # page -> server frames pass through untouched
        server.on_message(lambda message: self.deliver(ws, message))

    def deliver(self, ws: WebSocketRoute, message: str | bytes) -> None:
        if self.holding:
            self.held.append((ws, message))
        else:
            ws.send(message)

    def release(self) -> None:
        self.holding = False
        held, self.held = self.held, []
        for ws, message in held:
            ws.send(message)


def test_conflict_is_shown_and_resolved_by_reapplying(server: ServerProcess, open_planner: OpenPlanner) -> None:
    ana, ben = Person("Ana"), Person("Ben")
    day_id, activity_id = "665f00000000000000000d01", "665f00000000000000000a01"
    trip = make_trip(
        server,
        ana,
        ben,
        days=[
            {
                "dayId": day_id,
                "date": "2026-05-02",
                "title": "Belém",
                "activities": [{"activityId": activity_id, "title": "Lunch", "startTime": "13:00"}],
            }
        ],
    )
    gate = HoldIncoming()
    a = open_planner(server, ana, trip["tripId"])
    b = open_planner(server, ben, trip["tripId"], route=gate.route)
    for page in (a, b):
        expect(page.by(f"activity-title-{activity_id}")).to_have_text("Lunch")
    base = b.by("trip-version").inner_text()

    # A's change lands on the server while B's page has not heard of it yet
    gate.holding = True
    a.by(f"rename-activity-{activity_id}").click()
    a.by(f"activity-title-input-{activity_id}").fill("Lunch at Time Out Market")
    a.by(f"activity-title-input-{activity_id}").press("Enter")
    expect(a.by(f"activity-title-{activity_id}")).to_have_text("Lunch at Time Out Market")
    expect(a.by("trip-version")).not_to_have_text(base)
    expect(b.by(f"activity-title-{activity_id}")).to_have_text("Lunch")
    expect(b.by("trip-version")).to_have_text(base)

    # B edits the same activity from the same base version: the server answers CONFLICT
    b.by(f"rename-activity-{activity_id}").click()
    b.by(f"activity-title-input-{activity_id}").fill("Lunch at Pastéis de Belém")
    b.by(f"activity-title-input-{activity_id}").press("Enter")
    gate.release()

    panel = b.by("conflict-panel")
    expect(panel).to_be_visible()
    expect(b.by("conflict-body")).to_contain_text("someone changed the same thing just before you")
    expect(b.by("conflict-body")).not_to_contain_text(f"v{base}")  # plain words, no version numbers
    expect(panel).to_be_focused()
    expect(b.by("conflict-changes")).to_contain_text("Ana")
    expect(b.by(f"activity-title-{activity_id}")).to_have_text("Lunch at Time Out Market")  # theirs, for now
    expect(a.by(f"activity-title-{activity_id}")).to_have_text("Lunch at Time Out Market")  # B's did not land
    expect(a.by("conflict-panel")).to_be_hidden()

    # B re-applies on the latest version: the change lands for both
    b.by("conflict-reapply").click()
    expect(panel).to_be_hidden()
    expect(b.by(f"edit-activity-{activity_id}")).to_be_focused()  # focus back on the item, not lost to the page
    for page in (a, b):
        expect(page.by(f"activity-title-{activity_id}")).to_have_text("Lunch at Pastéis de Belém")
    expect(b.by("trip-version")).to_have_text(a.by("trip-version").inner_text())
    expect(b.by("outbox-list")).to_be_hidden()

    status, state = server.request("GET", f"/api/trips/{trip['tripId']}", bearer=ana.token)
    assert status == 200, state
    assert state["days"][0]["activities"][0]["title"] == "Lunch at Pastéis de Belém"
    no_page_errors(a, b)


def frames(raw: list[str], event: str) -> list[dict[str, Any]]:
    out = []
    for text in raw:
        try:
            frame = json.loads(text)
        except ValueError:
            continue
        if isinstance(frame, dict) and frame.get("event") == event:
            out.append(frame)
    return out


def test_server_restart_mid_session_recovers_with_nothing_lost_or_doubled(
    server: ServerProcess, open_planner: OpenPlanner, tmp_path: Path
) -> None:
    ana, ben = Person("Ana"), Person("Ben")
    day_id = "665f00000000000000000d02"
    trip = make_trip(server, ana, ben, days=[{"dayId": day_id, "date": "2026-05-03", "title": "Sintra"}])
    trip_id = trip["tripId"]
    a = open_planner(server, ana, trip_id)
    b = open_planner(server, ben, trip_id)
    send_chat(a, "Train to Sintra leaves Rossio at 9:11")
    expect(chat_line(b, "Train to Sintra")).to_have_count(1)

    # the server stops (SIGTERM: clients are told 1001): both pages say so and retry
    assert server.stop() == 0
    for page in (a, b):
        expect(page.by("connection-status")).to_have_text("reconnecting…")
        expect(page.by("reconnect-banner")).to_be_visible()
        expect(page.by("reconnect-text")).to_contain_text("The server is restarting")

    # while it is down: A writes a message, B adds an activity; both wait in the pages
    send_chat(a, "Typed while the server was down")
    expect(a.page.locator('[data-testid^="chat-pending-"]').filter(has_text="Typed while the server")).to_be_visible()
    b.by(f"add-activity-title-{day_id}").fill("Pena Palace")
    b.by(f"add-activity-start-{day_id}").fill("10:30")
    b.by(f"add-activity-{day_id}").click()
    expect(b.by("outbox-list")).to_contain_text("Pena Palace")
    # and A's laptop drops off the network, so A stays away a while longer than B
    a.context.set_offline(True)

    restarted = ServerProcess(server.store_url)
    restarted.port = server.port  # same port, same store file
    try:
        restarted.start(tmp_path)

        # B is back: its queued activity lands, and it chats while A is still away
        expect(b.by("connection-status")).to_have_text("connected", timeout=15_000)
        expect(b.by("reconnect-banner")).to_be_hidden()
        expect(b.page.locator(f'[data-testid="activity-list-{day_id}"] > li.activity')).to_have_text(
            re.compile("Pena Palace")
        )
        expect(b.by("outbox-list")).to_be_hidden()
        send_chat(b, "Sent while Ana was offline", "alert")
        expect(chat_line(b, "Sent while Ana was offline")).to_have_count(1)
        expect(a.by("connection-status")).to_have_text("offline")

        # A comes back online: it reconnects, catches up from its lastSeq, and sends its message once
        a.context.set_offline(False)
        expect(a.by("connection-status")).to_have_text("connected", timeout=15_000)
        expect(chat_line(a, "Sent while Ana was offline")).to_have_attribute("data-type", "alert")
        expect(a.page.locator(f'[data-testid="activity-list-{day_id}"] > li.activity')).to_have_text(
            re.compile("Pena Palace")
        )
        expect(a.page.locator('[data-testid^="chat-pending-"]')).to_have_count(0)
        expect(chat_line(b, "Typed while the server was down")).to_have_count(1)
        for page in (a, b):
            expect(page.by(f"member-{ana.user_id}")).to_be_visible()
            expect(page.by(f"member-{ben.user_id}")).to_be_visible()

        # nothing lost, nothing doubled: three messages on both pages and on the server
        texts = [
            "Train to Sintra leaves Rossio at 9:11",
            "Typed while the server was down",
            "Sent while Ana was offline",
        ]
        for page in (a, b):
            expect(page.chat_messages).to_have_count(len(texts))
            for text in texts:
                expect(chat_line(page, text)).to_have_count(1)
        expect(b.by("trip-seq")).to_have_text(a.by("trip-seq").inner_text())
        status, body = restarted.request("GET", f"/api/trips/{trip_id}/messages", bearer=ana.token)
        assert status == 200, body
        assert sorted(m["message"] for m in body["messages"]) == sorted(texts), body

        # and A caught up from its lastSeq, not by a snapshot: its session resumed with its room
        # (the stop recorded it disconnected), so it sent no join
        connected = frames(a.frames_received, "connected")[-1]
        assert connected["data"]["resumed"] is True and connected["data"]["rooms"] == [trip_id], connected
        rejoined = frames(a.frames_received, "trip_room_joined")[-1]
        assert rejoined["data"]["recovered"] is True and rejoined["data"]["resumed"] is True, rejoined
        assert len(frames(a.frames_sent, "join_trip_room")) == 1, a.frames_sent  # the first visit's only
    finally:
        restarted.stop()
    no_page_errors(a, b)


def test_screenshot_of_the_board_with_two_planners(server: ServerProcess, open_planner: OpenPlanner) -> None:
    """Saves test-artifacts/board-two-users.png (docs/images/board-two-users.png is a copy of one);
    tests/browser/test_planner_needs.py saves the phone one, planner-phone.png."""
    marta, tiago = Person("Marta"), Person("Tiago")
    trip = make_trip(
        server,
        marta,
        tiago,
        days=[
            {
                "date": "2026-05-01",
                "title": "Alfama and the castle",
                "activities": [
                    {
                        "title": "Tram 28 to Graça",
                        "startTime": "09:30",
                        "endTime": "10:15",
                        "location": "Martim Moniz",
                        "cost": 3,
                    },
                    {
                        "title": "Castelo de São Jorge",
                        "startTime": "10:30",
                        "endTime": "12:30",
                        "location": "Castelo",
                        "cost": 15,
                    },
                    {"title": "Fado dinner", "startTime": "20:30", "location": "Alfama", "cost": 45},
                ],
            },
            {
                "date": "2026-05-02",
                "title": "Belém",
                "activities": [
                    {
                        "title": "Jerónimos Monastery",
                        "startTime": "10:00",
                        "endTime": "11:30",
                        "location": "Belém",
                        "cost": 12,
                    },
                    {"title": "Pastéis de Belém", "startTime": "11:45", "location": "Rua de Belém", "cost": 6},
                ],
            },
        ],
    )
    m = open_planner(server, marta, trip["tripId"])
    t = open_planner(server, tiago, trip["tripId"])

    m.page.locator('[data-testid="add-constraint-panel"] > summary').click()
    m.by("constraint-kind").select_option("budget")
    m.by("constraint-amount").fill("250")
    m.by("constraint-currency").select_option("EUR")
    m.by("add-constraint-description").fill("per person, flights excluded")
    m.by("add-constraint").click()
    m.by("constraint-kind").select_option("daily_budget")
    m.by("constraint-amount").fill("60")
    m.by("add-constraint-description").fill("")
    m.by("add-constraint").click()
    m.by("constraint-kind").select_option("pace")
    m.by("constraint-pace").select_option("relaxed")
    m.by("add-constraint").click()
    expect(t.page.locator('[data-testid="constraint-list"] > li.constraint')).to_have_count(3)
    m.page.locator('[data-testid="add-constraint-panel"] > summary').click()

    t.by("add-day-date").fill("2026-05-03")
    t.by("add-day-title").fill("Sintra day trip")
    t.by("add-day").click()
    expect(m.page.locator('[data-testid="day-list"] > li.day')).to_have_count(3)
    expect(m.by("budget-warning")).to_contain_text("over the daily limit")

    send_chat(m, "Booked the fado place for Friday at 20:30")
    expect(chat_line(t, "Booked the fado place")).to_have_count(1)
    send_chat(t, "Sintra on Sunday? Pena Palace opens at 9:30", "suggestion")
    expect(chat_line(m, "Sintra on Sunday")).to_have_count(1)
    send_chat(m, "Great idea, I'll check the train times", "text")
    expect(chat_line(t, "check the train times")).to_have_count(1)
    for person in (marta, tiago):
        expect(m.by(f"member-{person.user_id}")).to_be_visible()
    # Tiago likes the booking and has the fado dinner open: Marta sees both
    t.page.locator('[data-testid^="chat-message-"]', has_text="Booked the fado place").locator(
        '[data-testid$="-👍"]'
    ).click()
    expect(m.page.locator('[data-testid^="chat-reaction-"]')).to_have_count(1)
    fado = t.page.locator('[data-testid^="activity-"].activity', has_text="Fado dinner").get_attribute("data-testid")
    assert fado is not None
    t.by(f"edit-{fado}").click()
    expect(m.by(f"viewers-{fado.removeprefix('activity-')}")).to_contain_text("Tiago has this open")

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "board-two-users.png"
    page: Page = m.page
    page.evaluate("document.activeElement?.blur(); window.scrollTo(0, 0)")
    page.mouse.move(0, 0)
    page.screenshot(path=str(shot), animations="disabled", caret="hide")
    assert shot.stat().st_size > 10_000
    no_page_errors(m, t)
