"""Edits and deletes in the MongoDB ``chat_messages`` read model: the current text, a
tombstone without text, whatever order the background writes land in (nx-27017 unless
MONGO_URL points at a real MongoDB)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app import build
from config import Settings
from eventlog.mongo_read_models import MongoReadModels
from eventlog.records import LogRecord
from service.container import Services
from service.pipeline import Origin
from tests.contract.test_mongo_read_models import FRIEND, OWNER, _Kept, mirror, raw, who  # noqa: F401 (raw: a fixture)


@pytest.fixture
async def changed(tmp_path: Path) -> AsyncIterator[tuple[list[LogRecord], list[str]]]:
    """Three messages: the first edited twice, the second deleted after an edit, the third as sent."""
    # personal data in the clear: this is about the order writes converge in, not sealing (tests/e2e/test_erasure.py)
    settings = Settings(store_url=f"sqlite:///{tmp_path / 'events.db'}", jwt_secret="s" * 32, plain_personal_data=True)
    services: Services = await build(settings)
    try:
        trip = await services.trips.create(
            Origin("rest", OWNER), who(OWNER), {"title": "Porto", "collaborators": [FRIEND]}
        )
        trip_id, origin = trip.trip_id, Origin("ws", FRIEND, "user", "s1")
        ids = []
        for n in range(3):
            payload = {"tripId": trip_id, "message": f"secret {n}", "type": "text"}
            outcome = await (await services.trips.chat(origin, who(FRIEND), trip_id, payload, None))
            ids.append(outcome.record.events[0]["data"]["messageId"])
        for message_id, text in ((ids[0], "first edit"), (ids[1], "edited, then gone"), (ids[0], "second edit")):
            payload = {"tripId": trip_id, "messageId": message_id, "message": text}
            await (await services.trips.edit_message(origin, who(FRIEND), trip_id, payload, None))
        payload = {"tripId": trip_id, "messageId": ids[1]}
        await (await services.trips.delete_message(Origin("rest", OWNER), who(OWNER), trip_id, payload, None))
        yield await services.store.read_all(0, 10_000), ids
    finally:
        await services.store.close()


async def messages(raw: Any) -> dict[str, dict[str, Any]]:  # noqa: F811
    return {doc["_id"]: doc for doc in await raw["chat_messages"].find({}).to_list(None)}


async def test_edits_and_deletes_converge_in_order_and_newest_first(
    changed: tuple[list[LogRecord], list[str]],
    mongo_url: str,
    mongo_database: str,
    raw: Any,  # noqa: F811
) -> None:
    records, ids = changed
    sink = MongoReadModels(mongo_url, database=mongo_database)
    try:
        await mirror(records, sink)
        in_order = await messages(raw)
        previews = {n["messageId"]: n["preview"] for n in await raw["notifications"].find({}).to_list(None)}
        kept = _Kept()
        await mirror(records, kept)
        await raw["chat_messages"].delete_many({})
        for change in reversed(kept.changes):  # edits and deletes before the messages they change
            await sink.write(change)
        newest_first = await messages(raw)
    finally:
        await sink.close()
    assert previews == {
        ids[0]: "secret 0",
        ids[1]: "",
        ids[2]: "secret 2",
    }  # the owner was told of each; the deleted one's preview is gone
    for docs in (in_order, newest_first):
        assert docs[ids[0]]["message"] == "second edit" and docs[ids[0]]["edited"]
        assert docs[ids[1]]["deleted"] and docs[ids[1]]["deletedBy"] == OWNER
        assert "message" not in docs[ids[1]] and "edited" not in docs[ids[1]]
        assert docs[ids[2]]["message"] == "secret 2" and "edited" not in docs[ids[2]]
        assert "secret 1" not in str(docs) and "then gone" not in str(docs)
        assert all(
            docs[i]["seq"] and docs[i]["timestamp"] for i in ids
        )  # the message's own fields, whatever came first
