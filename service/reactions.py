"""What a committed record makes happen on the wire: the pipeline hands every record
it committed here, in each stream's version order."""

from __future__ import annotations

from domain.read_marks import CHAT_READ
from domain.trip_events import NOTIFICATION_CREATED
from eventlog.records import LogRecord
from projections.notifications import notification_view
from service.broadcaster import Broadcaster
from service.hub import removed_user


class RecordReactions:
    def __init__(self, broadcaster: Broadcaster) -> None:
        self._broadcaster = broadcaster

    async def committed(self, record: LogRecord) -> None:
        if record.version is not None:
            # the room's frame; the sender's copy echoes its ref
            frame = await self._broadcaster.stream_record(record, ref=record.ref, sender=record.session_id)
            removed = removed_user(*frame) if frame is not None else None
            if removed is not None and record.stream is not None:
                await self._broadcaster.revoke(record.stream, removed)
        for event in record.events:
            if event["type"] == NOTIFICATION_CREATED:
                data = event["data"]
                await self._broadcaster.to_user(data["userId"], "notification", notification_view(data, record.at))
            elif event["type"] == CHAT_READ:  # every device of the user; the marking one's copy echoes its ref
                data = event["data"]
                await self._broadcaster.to_user(
                    data["userId"], "chat_read", dict(data), ref=record.ref, sender=record.session_id
                )
