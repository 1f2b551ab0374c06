"""Planning together in the page, two planners in real Chromium against a real server:
edits to different fields of one activity both survive, a replaced value is shown to
its author with a one-click restore, a move is one change, Ctrl+Z / Ctrl+Shift+Z undo
and redo one's own change, and the history panel restores an earlier version."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

pytest.importorskip("playwright.sync_api", reason="the Python package `playwright` is not installed")

from playwright.sync_api import expect

from tests.browser.conftest import Person, Planner, make_trip
from tests.server import ServerProcess

pytestmark = pytest.mark.e2e


def day_of(planner: Planner, activity_id: str) -> str:
    return str(
        planner.page.locator(f'[data-testid="activity-{activity_id}"]')
        .locator("xpath=ancestor::li[contains(@class,'day')]")
        .get_attribute("data-day-id")
    )


def test_fields_merge_replaced_values_restore_moves_undo_redo_and_history(
    server: ServerProcess, open_planner: Callable[..., Planner]
) -> None:
    ana, ben = Person("Ana"), Person("Ben")
    days = [{"date": "2026-05-01", "activities": [{"title": "Lunch"}]}, {"date": "2026-05-02"}]
    trip = make_trip(server, ana, ben, days=days)
    tid = trip["tripId"]
    day1, day2 = trip["days"][0]["dayId"], trip["days"][1]["dayId"]
    act = trip["days"][0]["activities"][0]["activityId"]
    a = open_planner(server, ana, tid)
    b = open_planner(server, ben, tid)
    for page in (a, b):
        expect(page.by(f"activity-title-{act}")).to_have_text("Lunch")

    # two fields of one activity, by two people: both survive
    a.by(f"rename-activity-{act}").click()
    a.by(f"activity-title-input-{act}").fill("Lunch at Time Out")
    a.by(f"activity-title-input-{act}").press("Enter")
    expect(b.by(f"activity-title-{act}")).to_have_text("Lunch at Time Out")
    b.by(f"edit-activity-{act}").click()
    b.by(f"activity-notes-input-{act}").fill("book a table")
    b.by(f"activity-save-{act}").click()
    expect(b.by(f"activity-editor-{act}")).to_have_count(0)

    # Ben renames it over Ana's title: Ana is told, and restores hers in one click
    b.by(f"rename-activity-{act}").click()
    b.by(f"activity-title-input-{act}").fill("Lunch at home")
    b.by(f"activity-title-input-{act}").press("Enter")
    expect(a.by("toast-replaced")).to_contain_text("Ben changed the title from “Lunch at Time Out” to “Lunch at home”")
    a.by("restore-mine-title").click()
    for page in (a, b):
        expect(page.by(f"activity-title-{act}")).to_have_text("Lunch at Time Out")
    status, state = server.request("GET", f"/api/trips/{tid}", bearer=ana.token)
    assert status == 200
    assert state["days"][0]["activities"][0] | {"activityId": act} == {
        "activityId": act,
        "title": "Lunch at Time Out",
        "notes": "book a table",
    }

    # the same field from editors opened on one version: the later save is a conflict naming
    # the field and whose value it is; "Keep theirs" drops mine, "Keep mine" applies it on top
    for choice, expected in (("conflict-discard", "Lunch by Ana"), ("conflict-reapply", "Lunch by Ben")):
        a.by(f"edit-activity-{act}").click()
        b.by(f"edit-activity-{act}").click()
        a.by(f"activity-title-input-{act}").fill("Lunch by Ana")
        a.by(f"activity-save-{act}").click()
        expect(b.by(f"activity-editor-{act}")).to_be_visible()  # B's editor is still open
        b.by(f"activity-title-input-{act}").fill("Lunch by Ben")
        b.by(f"activity-save-{act}").click()
        expect(b.by("conflict-panel")).to_be_visible()
        expect(b.by("conflict-field-title")).to_contain_text("Ana set the title to “Lunch by Ana”")
        b.by(choice).click()
        expect(b.by("conflict-panel")).to_be_hidden()
        for page in (a, b):
            expect(page.by(f"activity-title-{act}")).to_have_text(expected)
        if choice == "conflict-discard":  # back to Ana's title for the next round
            a.by(f"rename-activity-{act}").click()
            a.by(f"activity-title-input-{act}").fill("Lunch at Time Out")
            a.by(f"activity-title-input-{act}").press("Enter")
            expect(b.by(f"activity-title-{act}")).to_have_text("Lunch at Time Out")
    a.by(f"rename-activity-{act}").click()
    a.by(f"activity-title-input-{act}").fill("Lunch at Time Out")
    a.by(f"activity-title-input-{act}").press("Enter")
    expect(b.by(f"activity-title-{act}")).to_have_text("Lunch at Time Out")

    # a move to another day is one change, seen by both
    a.by(f"move-activity-{act}").select_option(day2)
    for page in (a, b):
        expect(page.page.locator(f'li[data-day-id="{day2}"] [data-testid="activity-{act}"]')).to_have_count(1)
    moves = [json.loads(f) for f in a.frames_sent if '"trip_update"' in f and "activity_moved" in f]
    assert len(moves) == 1 and not [f for f in a.frames_sent if "activity_removed" in f]

    # Ctrl+Z undoes Ana's own last change (the move), Ctrl+Shift+Z redoes it
    a.by("trip-title").click()
    a.page.keyboard.press("Control+z")
    for page in (a, b):
        expect(page.page.locator(f'li[data-day-id="{day1}"] [data-testid="activity-{act}"]')).to_have_count(1)
    a.page.keyboard.press("Control+Shift+z")
    for page in (a, b):
        expect(page.page.locator(f'li[data-day-id="{day2}"] [data-testid="activity-{act}"]')).to_have_count(1)
    # Ben's undo of his notes would still work; his undo of the title was replaced by Ana's restore: refused
    b.by("trip-title").click()
    b.page.keyboard.press("Control+z")
    expect(b.by("toast-undo-refused")).to_contain_text("someone else changed it since")

    # the history panel lists who changed what, and restores the plan as it was when created
    b.by("history-button").click()
    expect(b.by("history-list")).to_contain_text("Ana created the trip")
    expect(b.by("history-list")).to_contain_text("You changed the notes of")  # Ben sees his own as "You"
    expect(b.by("history-list")).to_contain_text("Ana renamed “Lunch” to “Lunch at Time Out”")
    b.by("history-restore-1").click()
    for page in (a, b):
        expect(page.by(f"activity-title-{act}")).to_have_text("Lunch")
        expect(page.page.locator(f'li[data-day-id="{day1}"] [data-testid="activity-{act}"]')).to_have_count(1)
    expect(b.by("history-list")).to_contain_text("You restored an earlier version of the plan")

    # dragging an activity onto another day moves it there, for both
    a.by(f"activity-{act}").drag_to(a.page.locator(f'li.day[data-day-id="{day2}"]'))
    for page in (a, b):
        expect(page.page.locator(f'li[data-day-id="{day2}"] [data-testid="activity-{act}"]')).to_have_count(1)

    # an editor whose activity someone removes keeps what was typed, and offers it back
    a.by(f"edit-activity-{act}").click()
    a.by(f"activity-notes-input-{act}").fill("window seat")
    b.by(f"remove-activity-{act}").click()
    expect(a.by("toast-editor-gone")).to_be_visible(timeout=20_000)  # the removal waits a few seconds for Undo
    a.by("editor-gone-readd").click()
    back = b.page.locator(f'li.day[data-day-id="{day2}"] .activity')
    expect(back).to_have_count(1)
    expect(back).to_contain_text("window seat")
    for planner in (a, b):
        assert planner.errors == [], planner.errors
