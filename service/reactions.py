"""What a committed record makes happen on the wire: the pipeline hands every record
it committed here, in each stream's version order."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from domain.read_marks import CHAT_READ
from domain.trip_events import NOTIFICATION_CREATED
from eventlog.ports import StoreUnavailable
from eventlog.records import LogRecord
from projections.notifications import notification_view
from service.broadcaster import Broadcaster
from service.erasure import PERSON_ERASED
from service.hub import removed_user
from service.signin import PeopleDirectory

if TYPE_CHECKING:  # service.erasure imports the pipeline, which these reactions are given to
    from service.erasure import MessageShredder

log = logging.getLogger("travelsense.reactions")


class RecordReactions:
    def __init__(
        self,
        broadcaster: Broadcaster,
        shredder: MessageShredder | None = None,
        people: PeopleDirectory | None = None,
    ) -> None:
        self._broadcaster = broadcaster
        self._shredder = shredder  # destroys a deleted chat message's keys (None: nothing is sealed)
        self._people = people  # who can be invited by name: an erased person is forgotten

    async def committed(self, record: LogRecord) -> None:
        if record.version is not None:
            # the room's frame; the sender's copy echoes its ref
            frame = await self._broadcaster.stream_record(record, ref=record.ref, sender=record.session_id)
            removed = removed_user(*frame) if frame is not None else None
            if removed is not None and record.stream is not None:
                await self._broadcaster.revoke(record.stream, removed)
            if self._shredder is not None and self._shredder.deletes_messages(record):  # (no coroutine per record)
                await self._shredder.shred_deleted_messages(record)
        for event in record.events:
            if event["type"] == NOTIFICATION_CREATED:
                data = event["data"]
                await self._broadcaster.to_user(data["userId"], "notification", notification_view(data, record.at))
            elif event["type"] == CHAT_READ:  # every device of the user; the marking one's copy echoes its ref
                data = event["data"]
                await self._broadcaster.to_user(
                    data["userId"], "chat_read", dict(data), ref=record.ref, sender=record.session_id
                )
            elif event["type"] == PERSON_ERASED and self._people is not None:
                try:
                    await self._people.forget(event["data"]["userId"])
                except StoreUnavailable:  # their name is sealed under the destroyed key: it masks, and is dropped
                    log.warning("could not forget an erased person in the people directory")
