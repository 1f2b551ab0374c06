"""The page works under its strict Content-Security-Policy and cannot be framed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

pytest.importorskip("playwright.sync_api", reason="the Python package `playwright` is not installed")

from playwright.sync_api import expect

from tests.browser.conftest import Person, Planner, make_trip
from tests.server import ServerProcess

OpenPlanner = Callable[..., Planner]


def test_the_page_runs_under_a_strict_csp_without_a_single_violation(
    server: ServerProcess, open_planner: OpenPlanner
) -> None:
    ana = Person("Ana")
    trip = make_trip(server, ana)
    planner = open_planner(server, ana, trip["tripId"])
    response = planner.page.request.get(f"{server.base}/")
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "default-src 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    planner.by("add-day-date").fill("2026-05-01")
    planner.by("add-day-title").fill("Alfama")
    planner.by("add-day").click()
    expect(planner.page.locator('[data-testid="day-list"] > li.day')).to_have_count(1)
    planner.by("chat-input").fill("hello under a CSP")
    planner.by("chat-input").press("Enter")
    expect(planner.chat_messages).to_have_count(1)
    assert planner.errors == []


def test_the_page_refuses_to_be_framed(server: ServerProcess, open_planner: OpenPlanner) -> None:
    ana = Person("Ana")
    trip = make_trip(server, ana)
    planner = open_planner(server, ana, trip["tripId"])
    page = planner.context.new_page()  # a page of its own (about:blank), not under the CSP under test
    url = f"{server.base}/?token={ana.token}&trip={trip['tripId']}"
    page.set_content(f'<iframe id="f" onload="document.body.dataset.loaded = 1" src="{url}"></iframe>')
    expect(page.locator("body[data-loaded]")).to_have_count(1)  # the frame's load is over, refused or not
    # a page that loaded would have its (static) status element
    expect(page.frame_locator("#f").get_by_test_id("connection-status")).to_have_count(0)
