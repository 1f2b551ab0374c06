"""``replay`` reads each notified user's notifications as a node does, through the store's index by
recipient, and names a user whose index disagrees with the log."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from analysts.replay import replay
from tests.integration.test_analysts import opened, small_log

pytestmark = pytest.mark.integration


async def test_replay_names_a_user_whose_notifications_by_recipient_differ_from_the_log(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/events.db"
    made = await small_log(url, random.Random(11), commands=80)
    notified = sorted(user for user, items in made["live"]["notifications"].items() if items)
    assert notified
    store = await opened(url)
    try:
        assert (await replay(store)).equal
    finally:
        await store.close()
    with sqlite3.connect(tmp_path / "events.db") as conn:  # the index loses one user's newest record
        conn.execute(
            "DELETE FROM notices WHERE user_id = ?1"
            " AND position = (SELECT MAX(position) FROM notices WHERE user_id = ?1)",
            (notified[0],),
        )
    store = await opened(url)
    try:
        report = await replay(store)
    finally:
        await store.close()
    assert not report.equal
    paths = [difference.path for difference in report.differences]
    assert paths and all(path.startswith(f"notifications.{notified[0]}[") for path in paths)  # the user, the item
