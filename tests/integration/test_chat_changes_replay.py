"""Logs with chat edits, deletes and reactions still replay to the live read model and verify, on both
stores; the live and rebuilt histories show the edits and tombstones, never a deleted text."""

from __future__ import annotations

from pathlib import Path

from analysts.compare import compare_models
from analysts.verify import verify
from app import build
from config import Settings
from projections.read_side import ReadSide
from service.auth import Identity
from service.pipeline import Origin
from tests.integration.test_analysts import mongo_url, opened, store_url  # noqa: F401 (fixtures: both stores)

OWNER, FRIEND = "0" * 23 + "1", "0" * 23 + "2"


def who(user: str) -> Identity:
    return Identity(user, "user", None, 2**31)


async def test_a_log_with_edits_and_deletes_replays_equal_and_verifies(store_url: str, tmp_path: Path) -> None:  # noqa: F811
    services = await build(Settings(store_url=store_url, jwt_secret="s" * 32))
    try:
        trip = await services.trips.create(
            Origin("rest", OWNER), who(OWNER), {"title": "Porto", "collaborators": [FRIEND]}
        )
        trip_id, origin = trip.trip_id, Origin("ws", FRIEND, "user", "s1")
        ids = []
        for n in range(4):
            payload = {"tripId": trip_id, "message": f"secret {n}", "type": "text"}
            ids.append(
                (await (await services.trips.chat(origin, who(FRIEND), trip_id, payload, None))).record.events[0][
                    "data"
                ]["messageId"]
            )
        await (
            await services.trips.edit_message(
                origin, who(FRIEND), trip_id, {"messageId": ids[0], "message": "fixed"}, None
            )
        )
        await (await services.trips.delete_message(origin, who(OWNER), trip_id, {"messageId": ids[1]}, None))
        for user, emoji in ((OWNER, "👍"), (FRIEND, "👍"), (OWNER, "🎉")):
            payload = {"messageId": ids[2], "emoji": emoji}
            await (await services.trips.react(origin, who(user), trip_id, payload, None, add=True))
        await (
            await services.trips.react(
                origin, who(OWNER), trip_id, {"messageId": ids[2], "emoji": "🎉"}, None, add=False
            )
        )
        await services.read_side.catch_up_notifications()
        live = services.read_side.snapshot()
        assert services.opener is not None  # the log keeps personal data sealed: open it to read it
        shown = str(services.opener.open(live["notifications"]))
        history = services.opener.open(live["chat"][trip_id])
    finally:
        await services.store.close()

    store = await opened(store_url)
    try:
        rebuilt = await ReadSide.rebuild(store)
        assert compare_models(rebuilt.snapshot(), live) == []
        compact = await ReadSide.rebuild(store, compact=True)
        assert compare_models(compact.snapshot(), live) == []
        assert (await verify(store)).intact
    finally:
        await store.close()
    assert "secret 1" not in shown  # the deleted message's preview is gone too
    assert "secret 3" in shown
    assert history[2]["reactions"] == [{"emoji": "👍", "count": 2, "userIds": [OWNER, FRIEND]}]
    assert history[0]["message"] == "fixed" and history[1]["deleted"] is True and "secret 1" not in str(history)
    assert live["trips"][trip_id]["chatNotes"][ids[1]] == {
        "authorId": FRIEND,
        "deletedBy": OWNER,
        "deletedAt": history[1]["deletedAt"],
    }
