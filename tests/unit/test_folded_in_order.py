"""The read models folded from the log in position order (announcements, notifications, read
marks) apply each record once: one at or before the last position folded changes nothing,
and a record says it changed the model when one of its events did."""

from __future__ import annotations

from typing import Any

import pytest

from domain.announcements import ANNOUNCEMENT_CREATED, ANNOUNCEMENT_READ
from domain.read_marks import CHAT_READ
from eventlog.records import SlimRecord
from projections.announcements import Announcements
from projections.folded import FoldedInOrder
from projections.notifications import NOTIFICATION_CREATED, NOTIFICATION_READ, Notifications
from projections.read_marks import ReadMarks

ANA, TRIP = "a" * 24, "f" * 24
AT = "2026-12-07T00:00:00.000Z"


def record(position: int, *events: dict[str, Any]) -> SlimRecord:
    return SlimRecord(position, AT, "c", "accepted", None, None, None, None, None, None, 2, list(events))


def event(kind: str, **data: Any) -> dict[str, Any]:
    return {"type": kind, "data": {"userId": ANA, **data}}


ANNOUNCED = event(ANNOUNCEMENT_CREATED, announcementId="n1", message="m", expiresAt="9999", type="info")
NOTIFIED = event(NOTIFICATION_CREATED, notificationId="n1", title="t")
UNRELATED = {"type": "chat_message", "data": {"messageId": "m", "userId": ANA}}


def announcements_read(model: Any) -> Any:
    return model.shown_to(ANA, AT)


def notifications_read(model: Any) -> Any:
    return model.of(ANA)


def marks_read(model: Any) -> Any:
    return model.of(ANA, TRIP)


CASES = [
    (Announcements, ANNOUNCED, event(ANNOUNCEMENT_READ, announcementId="n1"), announcements_read),
    (Notifications, NOTIFIED, event(NOTIFICATION_READ, notificationId="n1"), notifications_read),
    (ReadMarks, event(CHAT_READ, tripId=TRIP, seq=3), event(CHAT_READ, tripId=TRIP, seq=5), marks_read),
]


@pytest.mark.parametrize(("model", "first", "second", "seen"), CASES, ids=lambda case: getattr(case, "__name__", ""))
def test_each_record_is_applied_once_in_position_order(model: Any, first: Any, second: Any, seen: Any) -> None:
    folded: FoldedInOrder = model()
    assert folded.apply(record(2, UNRELATED, first))
    before = seen(folded)
    assert not folded.apply(record(2, second)) and not folded.apply(record(1, second))  # folded already
    assert seen(folded) == before and folded.position == 2
    assert not folded.apply(record(3, UNRELATED))  # nothing of this model's: no change, yet folded
    assert folded.position == 3
    assert folded.apply(record(4, second)) and seen(folded) != before


def test_a_model_that_does_not_say_how_it_folds_an_event_cannot_be_made() -> None:
    class Unfinished(FoldedInOrder):
        pass

    with pytest.raises(TypeError, match="fold"):
        Unfinished()  # type: ignore[abstract]
