"""``python app.py replay``: rebuild every projection from the log and check it.

The log is the only source of truth; a serving node keeps its read side in
memory, folded stream by stream as it goes.  ``replay``:

1. folds the whole log in position order into a fresh, compact read side
   (``ReadSide.rebuild``: trip states, chat histories, notifications, audit
   views; chat and notifications as counts and digests, so memory follows the
   number of trips and users, not the length of the log);
2. compares it with
   * a live node's read model (``--live URL``: ``GET /api/audit/read-model``,
     the node catches up every trip in the log first), or
   * without one, a second, independent fold made the way a node makes it:
     each trip's stream on its own (``read_stream``, version order) and each
     notified user's notifications through the store's index by recipient
     (``read_notifications``; audit views have no such second path: they are
     compared with a live node only);
3. reports the differences item by item.  Where a trip's chat or a user's
   notifications differ, it reads those again in full on both sides, so the
   report names the messages or notifications that differ.

``replay`` returns a report; equal means no difference at all.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from analysts.compare import MISSING, Differ, Difference, comparable
from analysts.scan import PAGE, gc_paused
from analysts.snapshots import check_snapshots
from domain.trip_events import CHAT_MESSAGE_DELETED
from eventlog.ports import EventStore
from eventlog.records import LogRecord
from projections.chat import ChatHistories
from projections.digests import compact_notifications
from projections.notification_cache import UserNotifications
from projections.notifications import NOTIFICATION_CREATED, NOTIFICATION_READ, NOTIFYING_COMMANDS, Notifications
from projections.read_side import ReadSide
from projections.trips import StreamGap

DRILL_DOWN = 20  # trips (chat) and users (notifications) read again in full when their digests differ
READ_MODEL_PATH = "/api/audit/read-model"

Step = Callable[[int], None]  # told how many more records (or trips) were done
ProgressFactory = Callable[[str, int | None, str], Step]  # (phase, how many in all or None, unit) -> step


@dataclass(frozen=True, slots=True)
class LiveModel:
    """A live node's read model and the log position it covers."""

    source: str
    position: int
    model: dict[str, Any]


@dataclass
class ReplayReport:
    against: str  # what the rebuild was compared with
    other: str  # its short name: "live" or "per-stream fold"
    records: int = 0
    position: int = 0
    summary: dict[str, int] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    truncated: bool = False

    @property
    def equal(self) -> bool:
        return not self.differences

    def to_json(self) -> dict[str, Any]:
        return {
            "equal": self.equal,
            "against": self.against,
            "records": self.records,
            "position": self.position,
            "summary": self.summary,
            "differences": [difference.to_json() for difference in self.differences],
            "truncated": self.truncated,
        }


def fetch_live(url: str, token: str, timeout: float = 600.0) -> LiveModel:
    """The read model of the node at ``url`` (an admin token is needed); ``RuntimeError`` says
    why it could not be read."""
    if not url.startswith(("http://", "https://")):
        raise RuntimeError(f"{url}: not a node's address (http://HOST:PORT or https://...)")
    request = urllib.request.Request(url.rstrip("/") + READ_MODEL_PATH, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.loads(response.read())
        return LiveModel(f"live node {url}", int(body["position"]), body["readModel"])
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"{url}: {error.code} {error.read()[:300].decode(errors='replace')}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise RuntimeError(f"{url}: {error}") from None
    except (KeyError, TypeError):
        raise RuntimeError(f"{url}: the answer is not a read model (is it a TravelSense node?)") from None


async def replay(
    store: EventStore,
    *,
    live: LiveModel | None = None,
    progress: ProgressFactory | None = None,
    limit: int = 100,
    page: int | None = None,
) -> ReplayReport:
    """Rebuild from the log and compare (see the module's doc); at most ``limit`` differences.

    ``progress`` is told of each phase (``rebuild``, then the second fold's) and how it advances.
    ``page``: records per read (default: what suits the store for folds, ``PAGE`` for full records).
    """
    if live is not None:
        report = ReplayReport(live.source, "live")
    else:
        report = ReplayReport("per-stream fold (the way a node builds it)", "per-stream fold")
    step = progress or _quiet
    rebuilding = step("rebuild", await store.head_position(), "records")  # how far the log goes, for an ETA

    def counted(n: int) -> None:
        report.records += n
        rebuilding(n)

    with gc_paused():
        rebuilt = await ReadSide.rebuild(
            store, counted, compact=True, until=live.position if live is not None else None, page=page
        )
        report.position = rebuilt.audit.position
        model = rebuilt.snapshot(audit=True)
        report.summary = _summary(model)
        differ = Differ(limit)
        for stream, gap in sorted(rebuilt.gaps.items()):
            differ.add(Difference(f"trips.{stream}", note=f"the rebuild stopped at a gap in the stream ({gap})"))
        if live is not None:
            await _against_live(store, model, live, differ, page or PAGE)
        else:
            await _against_streams(store, rebuilt, model, differ, page, step)
        for difference in (await check_snapshots(store, limit=limit)).differing:
            differ.add(difference)
    report.differences, report.truncated = differ.found, differ.truncated
    return report


def _quiet(phase: str, total: int | None, unit: str) -> Step:
    return lambda n: None


def _summary(model: dict[str, Any]) -> dict[str, int]:
    return {
        "trips": len(model["trips"]),
        "messages": sum(entry["messages"] for entry in model["chat"].values()),
        "notifications": sum(entry["notifications"] for entry in model["notifications"].values()),
        "usersNotified": len(model["notifications"]),
        "openSessions": len(model["audit"]["connections"]),
        "users": len(model["audit"]["users"]),
    }


def _item(differ: Differ, path: str, left: Any, right: Any) -> None:
    if left is MISSING or right is MISSING:
        if left is not right:
            differ.add(Difference(path, left, right))
    else:
        differ.json(path, left, right)


# against the per-stream fold ------------------------------------------------------------


async def _against_streams(
    store: EventStore,
    rebuilt: ReadSide,
    model: dict[str, Any],
    differ: Differ,
    page: int | None,
    step: ProgressFactory,
) -> None:
    trips, chat = model["trips"], model["chat"]
    chat_differs: list[str] = []
    per_stream_chat: dict[str, Any] = {}
    streams = sorted(rebuilt.audit.streams | trips.keys())
    done = step("per-stream", len(streams), "trips")
    for trip_id in streams:
        done(1)
        side = ReadSide(store, compact=True, page=page)
        try:
            await side.catch_up_trip(trip_id)
        except StreamGap as gap:
            differ.add(Difference(f"trips.{trip_id}", note=f"the per-stream fold stopped at a gap ({gap})"))
            continue
        trip = side.trips.get(trip_id)
        _item(differ, f"trips.{trip_id}", trips.get(trip_id, MISSING), trip.to_json() if trip else MISSING)
        theirs = side.chat.snapshot().get(trip_id, MISSING)
        if chat.get(trip_id, MISSING) != theirs:
            chat_differs.append(trip_id)
            per_stream_chat[trip_id] = theirs

    notes = model["notifications"]
    done = step("by-recipient", len(notes), "users")
    theirs_notes = {}
    for user in sorted(notes):
        done(1)
        found = await _by_recipient(store, user, page or PAGE)
        if found:
            theirs_notes[user] = compact_notifications(found)
    users = sorted(notes.keys() | theirs_notes.keys())
    users_differ = [user for user in users if notes.get(user) != theirs_notes.get(user)]

    if chat_differs or users_differ:
        full_page = page or PAGE
        ours = await _in_position_order(store, chat_differs[:DRILL_DOWN], users_differ[:DRILL_DOWN], None, full_page)
        theirs_items = await _per_stream_items(store, chat_differs[:DRILL_DOWN], users_differ[:DRILL_DOWN], full_page)
        _drill_down(differ, "chat", chat_differs, chat, per_stream_chat, ours[0], theirs_items[0])
        _drill_down(differ, "notifications", users_differ, notes, theirs_notes, ours[1], theirs_items[1])


async def _per_stream_items(
    store: EventStore, trips: list[str], users: list[str], page: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Full chat histories of ``trips`` and notifications of ``users``, read the way a node reads them."""
    chat: dict[str, Any] = {}
    for trip_id in trips:
        side = ReadSide(store, page=page)
        with contextlib.suppress(StreamGap):
            await side.catch_up_trip(trip_id)
        chat[trip_id] = side.chat.snapshot().get(trip_id, MISSING)
    notes = {user: found for user in users if (found := await _by_recipient(store, user, page))}
    return chat, notes


async def _by_recipient(store: EventStore, user_id: str, page: int) -> list[dict[str, Any]]:
    """The user's notifications read as a node reads them: through the store's index by recipient."""
    notes = UserNotifications(user_id)
    while True:
        records = await store.read_notifications(user_id, notes.position, page)
        for record in records:
            notes.apply(record)
        if len(records) < page:
            return notes.of()


# against a live node --------------------------------------------------------------------


async def _against_live(store: EventStore, model: dict[str, Any], live: LiveModel, differ: Differ, page: int) -> None:
    theirs = live.model
    _item(differ, "trips", model["trips"], theirs.get("trips", {}))
    chat_ours, chat_theirs = comparable(model, theirs, "chat")
    chat_differs = [t for t in sorted(chat_ours.keys() | chat_theirs.keys()) if chat_ours.get(t) != chat_theirs.get(t)]
    notes_ours, notes_theirs = comparable(model, theirs, "notifications")
    users_differ = [
        u for u in sorted(notes_ours.keys() | notes_theirs.keys()) if notes_ours.get(u) != notes_theirs.get(u)
    ]
    if chat_differs or users_differ:
        ours = await _in_position_order(
            store, chat_differs[:DRILL_DOWN], users_differ[:DRILL_DOWN], live.position, page
        )
        full_chat, full_notes = theirs.get("chat", {}), theirs.get("notifications", {})
        _drill_down(differ, "chat", chat_differs, chat_ours, chat_theirs, ours[0], full_chat)
        _drill_down(differ, "notifications", users_differ, notes_ours, notes_theirs, ours[1], full_notes)
    if "audit" in theirs:
        _item(differ, "audit", model["audit"], theirs["audit"])


# drilling down --------------------------------------------------------------------------


def _apply_for_users(notifications: Notifications, record: LogRecord, users: set[str]) -> None:
    events = tuple(
        event
        for event in record.events
        if (event["type"] in (NOTIFICATION_CREATED, NOTIFICATION_READ) and event["data"].get("userId") in users)
        or event["type"] == CHAT_MESSAGE_DELETED  # empties the previews of that message
    )
    if events:
        notifications.apply(replace(record, events=events))


async def _in_position_order(
    store: EventStore, trips: list[str], users: list[str], until: int | None, page: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Full chat histories of ``trips`` and notifications of ``users``, folded as the rebuild folds them."""
    chat, notes = ChatHistories(), Notifications()
    wanted_trips, wanted_users = set(trips), set(users)
    position = 0
    while True:
        records = await store.read_all(position, page)
        for record in records:
            if until is not None and record.position > until:
                return chat.snapshot(), notes.snapshot()
            if record.stream in wanted_trips:
                with contextlib.suppress(StreamGap):
                    chat.apply(record)
            if wanted_users and record.command in NOTIFYING_COMMANDS:
                _apply_for_users(notes, record, wanted_users)
        if len(records) < page:
            return chat.snapshot(), notes.snapshot()
        position = records[-1].position


def _drill_down(
    differ: Differ,
    section: str,
    keys: list[str],
    ours_compact: dict[str, Any],
    theirs_compact: dict[str, Any],
    ours_full: dict[str, Any],
    theirs_full: dict[str, Any],
) -> None:
    """Item differences for the first keys, the digests for the rest (and wherever items show none)."""
    for n, key in enumerate(keys):
        path = f"{section}.{key}"
        before = len(differ.found)
        if n < DRILL_DOWN:
            _item(differ, path, ours_full.get(key, MISSING), theirs_full.get(key, MISSING))
        if len(differ.found) == before:
            _item(differ, path, ours_compact.get(key, MISSING), theirs_compact.get(key, MISSING))
