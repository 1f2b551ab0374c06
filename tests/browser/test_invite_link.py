"""The invite link in the page (issue 21: "invited by name ... or by an invite link, never
by hex id"), in real Chromium against a real server: the owner copies the trip's invite
link; a person who is not on the trip opens it, signs in, and is a collaborator on the
trip at once, which the owner sees; a member without the right to invite has no control;
a link that no longer works says so in words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api", reason="the Python package `playwright` is not installed")

from playwright.sync_api import expect

from tests.browser.conftest import TIMEOUT_MS, VIEWPORT, Person, Planner, make_trip
from tests.server import ServerProcess

pytestmark = pytest.mark.e2e


def test_the_owner_copies_an_invite_link_and_whoever_opens_it_joins_the_trip(
    browser: Any, server: ServerProcess, open_planner: Callable[..., Planner]
) -> None:
    ana, ben, cai = Person("Ana"), Person("Ben"), Person("Cai")
    trip = make_trip(server, ana, ben)
    owner = open_planner(server, ana, trip["tripId"])
    owner.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base)
    owner.by("copy-invite-link").click()
    expect(owner.by("toast-area")).to_contain_text("Invite link copied")
    link = owner.by("invite-link").input_value()
    assert link.startswith(f"{server.base}/?invite=")
    assert owner.page.evaluate("navigator.clipboard.readText()") == link

    member = open_planner(server, ben, trip["tripId"])  # a collaborator may not invite: no control
    expect(member.by("add-collaborator-form")).to_be_hidden()
    expect(member.by("copy-invite-link")).to_be_hidden()

    context = browser.new_context(viewport=VIEWPORT, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto(f"{link}&token={cai.token}")  # signed in as the page's sign-in would
        expect(page.get_by_test_id("toast-area")).to_contain_text("You joined the trip")
        expect(page.get_by_test_id("trip-title")).to_have_text("Lisbon long weekend")
        expect(page.get_by_test_id(f"member-{cai.user_id}")).to_be_visible()
        assert "invite=" not in page.url and f"trip={trip['tripId']}" in page.url
        # the owner's page shows Cai among the collaborators, by name
        expect(owner.by("collaborator-list")).to_contain_text("Cai")

        page.goto(f"{server.base}/?invite=not-a-real-invite")  # signed in already (the tab keeps its token)
        expect(page.get_by_test_id("toast-area")).to_contain_text("Could not join with this invite link")
        expect(page.get_by_test_id("toast-area")).to_contain_text("not an invite link of this service")
        assert errors == []
    finally:
        context.close()
