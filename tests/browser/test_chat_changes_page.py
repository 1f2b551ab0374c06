"""The chat's edits, deletes, reactions and unread count in a real browser: two people, two
browser contexts, one trip, one real server (#17)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

pytest.importorskip("playwright.sync_api", reason="the Python package `playwright` is not installed")

from playwright.sync_api import expect

from tests.browser.conftest import Person, Planner, make_trip
from tests.server import ServerProcess

pytestmark = pytest.mark.e2e

OpenPlanner = Callable[..., Planner]


def send_chat(planner: Planner, text: str) -> str:
    planner.by("chat-input").fill(text)
    planner.by("chat-input").press("Enter")
    line = planner.chat_messages.filter(has_text=text)
    expect(line).to_have_count(1)
    testid = line.get_attribute("data-testid")
    assert testid is not None and testid.startswith("chat-message-")
    return testid.removeprefix("chat-message-")


def test_one_edits_and_deletes_the_other_reacts_reads_the_unread_count_down_and_mentions(
    server: ServerProcess, open_planner: OpenPlanner
) -> None:
    ana, ben = Person("Ana"), Person("Ben")
    trip = make_trip(server, ana, ben)
    a = open_planner(server, ana, trip["tripId"])
    b = open_planner(server, ben, trip["tripId"])

    plan = send_chat(a, "Meet at 9 at the tram stop")
    secret = send_chat(a, "The door code is 4711")
    expect(b.by(f"chat-message-{secret}")).to_contain_text("4711")
    expect(b.by("chat-unread")).to_have_text("2 unread")

    a.by(f"chat-edit-{plan}").click()
    a.by(f"chat-edit-input-{plan}").fill("Meet at 10 at the tram stop")
    a.by(f"chat-edit-save-{plan}").click()
    expect(b.by(f"chat-message-{plan}")).to_contain_text("Meet at 10 at the tram stop")
    expect(b.by(f"chat-edited-{plan}")).to_be_visible()

    a.by(f"chat-delete-{secret}").click()
    a.by("confirm-yes").click()
    expect(b.by(f"chat-message-{secret}")).to_contain_text("Message deleted")
    expect(b.by(f"chat-message-{secret}")).not_to_contain_text("4711")
    expect(b.by(f"chat-delete-{plan}")).to_have_count(0)  # Ben may not delete Ana's message (he is not the owner)
    expect(b.by(f"chat-edit-{plan}")).to_have_count(0)

    b.by(f"chat-react-{plan}-👍").click()
    expect(a.by(f"chat-reaction-{plan}-👍")).to_have_text("1")  # the face is an SVG icon, never an emoji glyph
    expect(a.by(f"chat-reaction-{plan}-👍")).to_have_attribute("aria-label", "thumbs up, 1 person")
    expect(a.by(f"chat-reaction-{plan}-👍").locator("svg")).to_have_count(1)
    expect(b.by(f"chat-reaction-{plan}-👍")).to_have_attribute("aria-pressed", "true")
    expect(b.by(f"chat-react-{plan}-🎉")).to_have_attribute(
        "aria-label", "React with celebrate to Ana's message “Meet at 10 at the tram stop”"
    )
    shown = a.by("chat-log").inner_text()  # without an emoji font an emoji is an empty box: none on screen
    assert not re.search("[\U0001f300-\U0001faff\u2600-\u27bf]", shown), shown

    expect(b.by("chat-unread")).to_have_text("1 unread")  # the deleted message is not unread any more
    b.by("chat-unread").click()
    expect(b.by("chat-unread")).to_be_hidden()
    status, state = server.request("GET", f"/api/trips/{trip['tripId']}/chat/read", bearer=ben.token)
    assert status == 200 and state["unread"] == 0, state
    ask = send_chat(b, "@Ana can you book the tram?")  # a mention by display name
    expect(a.by(f"chat-message-{ask}")).to_have_class(re.compile(r"\bmentions-me\b"))
    expect(b.by(f"chat-message-{ask}")).not_to_have_class(re.compile(r"\bmentions-me\b"))
    status, listed = server.request("GET", "/api/notifications", bearer=ana.token)
    assert status == 200 and [n["kind"] for n in listed["notifications"]] == ["mention"], listed
    for planner in (a, b):
        assert planner.errors == [], f"{planner.person.name}'s page threw: {planner.errors}"
