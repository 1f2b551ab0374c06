"""``python app.py erase --user ID``: the operator's way to erase a person, through the
same ``Erasure`` service as the admin endpoint (``service/erasure.py``), from outside
any running node.  Running nodes stop opening the person's data within their key
cache's ``TTL``."""

from __future__ import annotations

from typing import Any

from eventlog.factory import open_key_store, open_read_models, open_store
from eventlog.records import LogRecord
from eventlog.sealing import Opener
from projections.read_side import ReadSide
from service.clock import SystemClock
from service.erasure import Erasure
from service.ids import ObjectIdFactory
from service.pipeline import Origin, Pipeline
from service.privacy import RecordSealer


class _NoReactions:
    async def committed(self, record: LogRecord) -> None:
        return None


async def erase_person(store_url: str, user_id: str, by: str) -> dict[str, Any]:
    store = open_store(store_url)
    keys = open_key_store(store_url)
    sink = open_read_models(store_url, Opener(keys))
    try:
        await store.open()
        read_side = ReadSide(store)
        pipeline = Pipeline(
            store, read_side, _NoReactions(), SystemClock(), ObjectIdFactory(), sealer=RecordSealer(keys)
        )
        erasure = Erasure(keys, pipeline, store, read_side, sink)
        record = await erasure.erase_person(Origin("system", None, "operator"), user_id, by=by)
        return {"userId": user_id, "erasedAt": record.at, "keysDestroyed": record.events[0]["data"]["keysDestroyed"]}
    finally:
        if sink is not None:
            await sink.close()
        await store.close()
        keys.close()
