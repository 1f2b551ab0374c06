"""The trip decider: ``decide(state, command) -> events`` and
``evolve(state, event) -> state``, pure functions over frozen values (the events
are in ``domain/trip_events.py``).

Every accepted command on a trip produces exactly one stream event, so an
event's position in the trip's stream (its ``seq``) is also the trip's
``version`` after it.  Time and fresh ids come in with the command.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from domain.chat_notes import ChatNote, reacted
from domain.errors import CommandRefused, ErrorCode, invalid
from domain.frozen import replacer
from domain.itinerary import check_new_days, check_update
from domain.trip_events import (
    ActivityAdded,
    ActivityRemoved,
    ActivityUpdated,
    ChatMessageDeleted,
    ChatMessageEdited,
    ChatMessagePosted,
    ChatReactionsChanged,
    CollaboratorAdded,
    CollaboratorRemoved,
    ConstraintAdded,
    ConstraintRemoved,
    DayAdded,
    DayRemoved,
    DecidedEvent,
    NotificationCreated,
    TripCreated,
    TripEvent,
    TripUpdated,
    update_type,
)
from domain.trip_limits import DEFAULT_TRIP_LIMITS, TripLimits, check_limits
from domain.trip_model import (
    JSON,
    TOUCH_HISTORY,
    Activity,
    Constraint,
    Day,
    Touch,
    Trip,
    can_manage,
)


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: str
    is_admin: bool = False
    name: str | None = None


# Commands (imperative) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateTrip:
    trip_id: str
    title: str
    owner_id: str
    collaborators: tuple[str, ...]
    days: tuple[dict[str, JSON], ...]
    fresh_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AddCollaborator:
    actor: Actor
    user_id: str


@dataclass(frozen=True, slots=True)
class RemoveCollaborator:
    actor: Actor
    user_id: str


@dataclass(frozen=True, slots=True)
class UpdateTrip:
    actor: Actor
    update_type: str
    data: dict[str, JSON]
    base_version: int | None
    fresh_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PostChatMessage:
    actor: Actor
    message_id: str
    message: str
    type: str
    # who is in the trip's room as the message is sent (a fact the shell looks up): the
    # other members are notified; None: nobody else is in the room
    present: frozenset[str] | None = None
    mentions: tuple[str, ...] = ()  # the users the message names (``@``); members among them are notified


@dataclass(frozen=True, slots=True)
class EditChatMessage:
    actor: Actor
    message_id: str
    message: str
    at: str
    # who wrote the message, as the shell found it (a fact: an author never changes); None: no such message
    author: str | None


@dataclass(frozen=True, slots=True)
class DeleteChatMessage:
    actor: Actor
    message_id: str
    at: str
    author: str | None  # as for ``EditChatMessage``


@dataclass(frozen=True, slots=True)
class ReactToChatMessage:
    actor: Actor
    message_id: str
    emoji: str  # one emoji (checked at the edge)
    add: bool  # False: remove it
    author: str | None  # as for ``EditChatMessage``


MAX_REACTION_KINDS = 20  # different emoji on one message


TripCommand = (
    CreateTrip
    | AddCollaborator
    | RemoveCollaborator
    | UpdateTrip
    | PostChatMessage
    | EditChatMessage
    | DeleteChatMessage
    | ReactToChatMessage
)


CHAT_PREVIEW_LENGTH = 100


# Fresh ids ----------------------------------------------------------------------


def fresh_ids_needed(update_type: str, data: dict[str, JSON]) -> int:
    """How many server-assigned ids an update needs (ids the client left out)."""
    match update_type:
        case "day_added":
            return 0 if "dayId" in data["day"] else 1
        case "activity_added":
            return 0 if "activityId" in data["activity"] else 1
        case "constraint_added":
            return 0 if "constraintId" in data["constraint"] else 1
    return 0


def fresh_ids_for_days(days: list[dict[str, JSON]]) -> int:
    count = 0
    for day in days:
        count += "dayId" not in day
        count += sum("activityId" not in a for a in day.get("activities", ()))
    return count


class _Ids:
    def __init__(self, ids: tuple[str, ...]) -> None:
        self._ids = iter(ids)

    def take(self, given: object) -> str:
        return given if isinstance(given, str) else next(self._ids)


# decide ---------------------------------------------------------------------------


def decide(
    state: Trip | None, command: TripCommand, limits: TripLimits = DEFAULT_TRIP_LIMITS
) -> tuple[DecidedEvent, ...]:
    """What a command makes happen: its stream event first (at most one), then what
    rides along with it (notifications); refused past the trip's limits."""
    check_limits(state, command, limits)
    if isinstance(command, CreateTrip):
        if state is not None:
            raise invalid("tripId", "a trip with this id exists")
        return (_create(command),)
    if state is None:
        raise CommandRefused(ErrorCode.TRIP_NOT_FOUND, "trip not found")
    match command:
        case AddCollaborator(actor, user_id):
            _require_manager(state, actor)
            if state.is_member(user_id):
                return ()
            return (CollaboratorAdded(user_id),)
        case RemoveCollaborator(actor, user_id):
            _require_manager(state, actor)
            if user_id not in state.collaborators:
                raise CommandRefused(ErrorCode.NOT_FOUND, "that user is not a collaborator of this trip")
            return (CollaboratorRemoved(user_id),)
        case UpdateTrip():
            return (_update(state, command),)
        case PostChatMessage(actor, message_id, message, kind, present, mentions):
            named = tuple(dict.fromkeys(u for u in mentions if u != actor.user_id and state.is_member(u)))
            posted = ChatMessagePosted(message_id, actor.user_id, actor.name, message, kind, named)
            return (posted, *_notify_absent(state, posted, present))
        case EditChatMessage(actor, message_id, message, at, author):
            author = _live_author(state, message_id, author)
            if actor.user_id != author:
                raise CommandRefused(ErrorCode.FORBIDDEN, "only its author may edit a message")
            return (ChatMessageEdited(message_id, author, message, at),)
        case DeleteChatMessage(actor, message_id, at, author):
            author = _live_author(state, message_id, author)
            if actor.user_id != author and not can_manage(state, actor.user_id, actor.is_admin):
                raise CommandRefused(
                    ErrorCode.FORBIDDEN, "only its author, the trip's owner or an admin may delete a message"
                )
            return (ChatMessageDeleted(message_id, author, actor.user_id, at),)
        case ReactToChatMessage(actor, message_id, emoji, add, author):
            author = _live_author(state, message_id, author)
            note = state.chat_notes.get(message_id)
            before = note.reactions if note is not None else ()
            after = reacted(before, actor.user_id, emoji, add)
            if after == before:
                return ()  # already so: nothing changes
            if len(after) > MAX_REACTION_KINDS:
                raise invalid("emoji", f"a message holds at most {MAX_REACTION_KINDS} kinds of reaction")
            return (ChatReactionsChanged(message_id, author, actor.user_id, emoji, add, after),)
    raise TypeError(f"not a trip command: {command!r}")


def notification_id(message_id: str, user_id: str) -> str:
    """A notification's id, derived from its message and recipient so that deciding
    needs no fresh ids: the message id's time prefix, then a digest (24 hex digits, an
    ObjectId's shape, ordered by time like one)."""
    return message_id[:8] + hashlib.blake2b(f"{message_id}:{user_id}".encode(), digest_size=8).hexdigest()


def _notify_absent(
    state: Trip, posted: ChatMessagePosted, present: frozenset[str] | None
) -> tuple[NotificationCreated, ...]:
    """Every member but the sender who is not in the room is notified, and every member the
    message mentions, in the room or not (one notification each, of kind ``mention`` then)."""
    return tuple(
        NotificationCreated(
            notification_id(posted.message_id, user),
            user,
            state.trip_id,
            posted.message_id,
            posted.user_id,
            posted.message[:CHAT_PREVIEW_LENGTH],
            "mention" if user in posted.mentions else "chat_message",
        )
        for user in (state.owner_id, *state.collaborators)
        if user != posted.user_id and (present is None or user not in present or user in posted.mentions)
    )


def _live_author(state: Trip, message_id: str, author: str | None) -> str:
    """Who wrote a message of the trip that is not deleted; refused otherwise."""
    note = state.chat_notes.get(message_id)
    if note is not None:
        if note.deleted:
            raise CommandRefused(ErrorCode.NOT_FOUND, "that message was deleted")
        return note.author_id
    if author is None:
        raise CommandRefused(ErrorCode.NOT_FOUND, "no such message in this trip")
    return author


def _require_manager(state: Trip, actor: Actor) -> None:
    if not can_manage(state, actor.user_id, actor.is_admin):
        raise CommandRefused(ErrorCode.FORBIDDEN, "only the trip's owner or an admin may change collaborators")


def _create(command: CreateTrip) -> TripCreated:
    check_new_days(command.days)
    ids = _Ids(command.fresh_ids)
    days: list[dict[str, JSON]] = []
    seen: set[str] = set()
    for day in command.days:
        built = {"dayId": ids.take(day.get("dayId")), "date": day["date"]}
        if "title" in day:
            built["title"] = day["title"]
        activities = []
        for activity in day.get("activities", ()):
            activities.append({**activity, "activityId": ids.take(activity.get("activityId"))})
        built["activities"] = activities
        for item_id in [built["dayId"], *(a["activityId"] for a in activities)]:
            if item_id in seen:
                raise invalid("days", f"id {item_id} is used twice")
            seen.add(item_id)
        days.append(built)
    collaborators = tuple(dict.fromkeys(c for c in command.collaborators if c != command.owner_id))
    return TripCreated(command.trip_id, command.title, command.owner_id, collaborators, tuple(days))


def _referenced_items(state: Trip, update_type: str, data: dict[str, JSON]) -> list[str]:
    match update_type:
        case "day_added":
            return [data["day"]["dayId"]] if "dayId" in data["day"] else []
        case "day_removed":
            day = state.day(data["dayId"])
            return [data["dayId"], *(a.activity_id for a in (day.activities if day else ()))]
        case "activity_added":
            return [data["dayId"], *([data["activity"]["activityId"]] if "activityId" in data["activity"] else [])]
        case "activity_updated" | "activity_removed":
            return [data["dayId"], data["activityId"]]
        case "constraint_added":
            return [data["constraint"]["constraintId"]] if "constraintId" in data["constraint"] else []
        case "constraint_removed":
            return [data["constraintId"]]
    return []


def _check_conflict(state: Trip, command: UpdateTrip) -> None:
    base = command.base_version
    if base is None or base == state.version:
        return
    if base > state.version:
        raise invalid("baseVersion", f"is ahead of the trip's version {state.version}")
    clashes = sorted(
        {
            (touch.version, touch.update_type)
            for item in _referenced_items(state, command.update_type, command.data)
            for touch in state.touches_of(item)
            if touch.version > base
        }
    )
    if clashes:
        raise CommandRefused(
            ErrorCode.CONFLICT,
            "the trip changed since baseVersion on the same item",
            {"currentVersion": state.version, "conflictsWith": [update_type for _, update_type in clashes]},
        )


def _update(state: Trip, command: UpdateTrip) -> TripUpdated:
    _check_conflict(state, command)
    check_update(state, command.update_type, command.data)
    data = command.data
    ids = _Ids(command.fresh_ids)
    match command.update_type:
        case "day_added":
            day = dict(data["day"])
            day["dayId"] = ids.take(day.get("dayId"))
            if state.day(day["dayId"]) is not None:
                raise invalid("day.dayId", "a day with this id exists")
            return DayAdded(day)
        case "day_removed":
            _require_day(state, data["dayId"])
            return DayRemoved(data["dayId"])
        case "activity_added":
            _require_day(state, data["dayId"])
            activity = dict(data["activity"])
            activity["activityId"] = ids.take(activity.get("activityId"))
            if state.has_activity(activity["activityId"]):
                raise invalid("activity.activityId", "an activity with this id exists")
            return ActivityAdded(data["dayId"], activity)
        case "activity_updated" | "activity_removed":
            if _require_day(state, data["dayId"]).find(data["activityId"]) is None:
                raise invalid("activityId", "no such activity in that day")
            if command.update_type == "activity_updated":
                return ActivityUpdated(data["dayId"], data["activityId"], data["changes"])
            return ActivityRemoved(data["dayId"], data["activityId"])
        case "constraint_added":
            constraint = dict(data["constraint"])
            constraint["constraintId"] = ids.take(constraint.get("constraintId"))
            if state.constraint(constraint["constraintId"]) is not None:
                raise invalid("constraint.constraintId", "a constraint with this id exists")
            return ConstraintAdded(constraint)
        case "constraint_removed":
            if state.constraint(data["constraintId"]) is None:
                raise invalid("constraintId", "no such constraint in this trip")
            return ConstraintRemoved(data["constraintId"])
    raise invalid("updateType", "unknown update type")


def _require_day(state: Trip, day_id: str) -> Day:
    day = state.day(day_id)
    if day is None:
        raise invalid("dayId", "no such day in this trip")
    return day


# evolve ---------------------------------------------------------------------------


def evolve(
    state: Trip | None, event: TripEvent, version: int, at: str, *, remember_changes: bool = True
) -> Trip | None:
    """The trip after ``event``, which sits at position ``version`` of its stream.

    ``remember_changes=False``: the state is for reading only (a replay's fold), so the
    recent changes of each item, which only ``decide`` reads (conflicts), are not kept."""
    if isinstance(event, TripCreated):
        days = tuple(sorted((_day_from_json(d) for d in event.days), key=lambda d: d.date))
        return Trip(event.trip_id, event.title, event.owner_id, event.collaborators, days, (), version, at)
    if state is None:
        return None
    if isinstance(event, ChatMessagePosted):
        return _replace(state, version=version)
    if isinstance(event, ChatMessageEdited | ChatMessageDeleted | ChatReactionsChanged):
        return _replace(state, version=version, chat_notes=_noted(state, event))
    return _apply_update(state, event, version, at, remember_changes)


def _day_from_json(raw: dict[str, JSON]) -> Day:
    activities = tuple(Activity.build(a["activityId"], a) for a in raw.get("activities", ()))
    return Day(raw["dayId"], raw["date"], raw.get("title"), activities)


_replace = replacer(Trip)


def _noted(
    state: Trip, event: ChatMessageEdited | ChatMessageDeleted | ChatReactionsChanged
) -> MappingProxyType[str, ChatNote]:
    notes = dict(state.chat_notes)
    note = notes.get(event.message_id)
    if isinstance(event, ChatMessageEdited):
        reactions = note.reactions if note is not None else ()
        notes[event.message_id] = ChatNote(event.user_id, event.message, event.edited_at, reactions=reactions)
    elif isinstance(event, ChatReactionsChanged):
        kept = note if note is not None else ChatNote(event.author_id)
        notes[event.message_id] = replace(kept, reactions=event.reactions)
    else:
        notes[event.message_id] = ChatNote(event.user_id, deleted_by=event.deleted_by, deleted_at=event.deleted_at)
    return MappingProxyType(notes)


def _touched(
    state: Trip, version: int, update_type: str, item_ids: list[str]
) -> MappingProxyType[str, tuple[Touch, ...]]:
    touches = dict(state.touches)
    for item in item_ids:
        touches[item] = (*touches.get(item, ()), Touch(version, update_type))[-TOUCH_HISTORY:]
    return MappingProxyType(touches)


def _with_day(days: tuple[Day, ...], day_id: str, change: Any) -> tuple[Day, ...]:
    return tuple(change(d) if d.day_id == day_id else d for d in days)


def _apply_update(state: Trip, event: TripUpdated, version: int, at: str, remember_changes: bool = True) -> Trip:
    days, constraints, collaborators = state.days, state.constraints, state.collaborators
    touched: list[str] = []
    match event:
        case CollaboratorAdded(user_id):
            collaborators = (*collaborators, user_id)
        case CollaboratorRemoved(user_id):
            collaborators = tuple(c for c in collaborators if c != user_id)
        case DayAdded(raw_day):
            day = _day_from_json(raw_day)
            days = tuple(sorted((*days, day), key=lambda d: d.date))
            touched = [day.day_id]
        case DayRemoved(day_id):
            gone = state.day(day_id)
            days = tuple(d for d in days if d.day_id != day_id)
            touched = [day_id, *(a.activity_id for a in (gone.activities if gone else ()))]
        case ActivityAdded(day_id, raw_activity):
            activity = Activity.build(raw_activity["activityId"], raw_activity)
            days = _with_day(days, day_id, lambda d: _replace_day(d, (*d.activities, activity)))
            touched = [activity.activity_id]
        case ActivityUpdated(day_id, target, changes):
            days = _with_day(
                days,
                day_id,
                lambda d: _replace_day(
                    d, tuple(a.changed(changes) if a.activity_id == target else a for a in d.activities)
                ),
            )
            touched = [target]
        case ActivityRemoved(day_id, target):
            days = _with_day(
                days, day_id, lambda d: _replace_day(d, tuple(a for a in d.activities if a.activity_id != target))
            )
            touched = [target]
        case ConstraintAdded(raw):
            constraints = (
                *constraints,
                Constraint(raw["constraintId"], raw["type"], raw["value"], raw.get("description")),
            )
            touched = [raw["constraintId"]]
        case ConstraintRemoved(constraint_id):
            constraints = tuple(c for c in constraints if c.constraint_id != constraint_id)
            touched = [constraint_id]
    return _replace(
        state,
        days=days,
        constraints=constraints,
        collaborators=collaborators,
        version=version,
        updated_at=at,
        touches=_touched(state, version, update_type(event), touched)
        if touched and remember_changes
        else state.touches,
    )


def _replace_day(day: Day, activities: tuple[Activity, ...]) -> Day:
    return Day(day.day_id, day.date, day.title, activities)
