"""The trip decider: ``decide(state, command) -> events`` and
``evolve(state, event) -> state``, pure functions over frozen values (the events
are in ``domain/trip_events.py``).

Every accepted command on a trip produces exactly one stream event, so an
event's position in the trip's stream (its ``seq``) is also the trip's
``version`` after it.  Time and fresh ids come in with the command.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from domain import trip_collab as collab
from domain.chat_notes import ChatNote, reacted
from domain.errors import CommandRefused, ErrorCode, invalid
from domain.frozen import replacer
from domain.itinerary import check_new_days, check_update
from domain.shared_map import SharedMap
from domain.trip_events import (
    ActivityAdded,
    ActivityMoved,
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
    ConstraintUpdated,
    DayAdded,
    DayRemoved,
    DayUpdated,
    DecidedEvent,
    InvitesRevoked,
    NotificationCreated,
    PlanChange,
    Reverted,
    TripCreated,
    TripEvent,
    TripRestored,
    TripUpdated,
    update_type,
)
from domain.trip_limits import DEFAULT_TRIP_LIMITS, TripLimits, check_limits, check_update_limits
from domain.trip_model import (
    JSON,
    POSITION,
    TOUCH_HISTORY,
    Activity,
    Constraint,
    Day,
    Touch,
    Trip,
    can_manage,
    places_of,
)
from domain.trip_notices import Audience, notification_id, replaced_notices


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
class AcceptInvite:
    """``user_id`` joins by an invite ``inviter_id`` made when the trip's invite epoch was
    ``epoch``: refused once the epoch moved on (a collaborator removed, the invites revoked),
    so a link made before someone's removal never brings them back; and refused unless the
    inviter owns the trip now (an admin's authority is not the trip's to know a week later)."""

    inviter_id: str
    user_id: str
    epoch: int


@dataclass(frozen=True, slots=True)
class RevokeInvites:
    actor: Actor


@dataclass(frozen=True, slots=True)
class UpdateTrip:
    actor: Actor
    update_type: str
    data: dict[str, JSON]
    base_version: int | None
    fresh_ids: tuple[str, ...]
    # who is told of the values it replaces when outside the room (None: nobody)
    audience: Audience | None = None
    # fields of ``data["changes"]`` sent with the value they already had (a fact the shell finds:
    # the state keeps personal data sealed, so only it can compare); left out of the change
    unchanged: frozenset[str] = frozenset()


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
class UndoChange:
    """Undo (``kind="undo"``) or redo (``"redo"``) the actor's latest change."""

    actor: Actor
    kind: str
    audience: Audience | None = None


@dataclass(frozen=True, slots=True)
class RestoreTrip:
    actor: Actor
    to_version: int
    target: Trip | None  # the trip as it was at ``to_version`` (a fact the shell folds from the log)
    audience: Audience | None = None


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
    | AcceptInvite
    | RevokeInvites
    | UpdateTrip
    | PostChatMessage
    | UndoChange
    | RestoreTrip
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
        case AcceptInvite(inviter_id, user_id, epoch):
            if inviter_id != state.owner_id:
                raise CommandRefused(ErrorCode.FORBIDDEN, "whoever made this invite link may no longer invite")
            if epoch != state.invite_epoch:
                raise CommandRefused(ErrorCode.FORBIDDEN, "this invite link was revoked: ask for a new one")
            if state.is_member(user_id):
                return ()
            return (CollaboratorAdded(user_id),)
        case RevokeInvites(actor):
            _require_manager(state, actor)
            return (InvitesRevoked(),)
        case UpdateTrip(actor, audience=audience):
            updated = _update(state, command)
            return (updated, *replaced_notices(state, updated, actor.user_id, actor.name, audience))
        case UndoChange(actor, kind, audience):
            reverted = _revert(state, actor, kind, limits)
            return (reverted, *replaced_notices(state, reverted, actor.user_id, actor.name, audience))
        case RestoreTrip(actor, to_version, target, audience):
            restored = _restore(state, to_version, target)
            return (restored, *replaced_notices(state, restored, actor.user_id, actor.name, audience, target))
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


FIELD_UPDATES = frozenset({"activity_updated", "day_updated", "constraint_updated", "activity_moved"})


def _check_conflict(state: Trip, command: UpdateTrip) -> None:
    base = command.base_version
    if base is None or base == state.version:
        return
    if base > state.version:
        raise invalid("baseVersion", f"is ahead of the trip's version {state.version}")
    if command.update_type in FIELD_UPDATES:
        return  # merged field by field (``trip_collab.check_fields``)
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
    data = command.data
    changes = data.get("changes")
    if command.unchanged and isinstance(changes, dict):
        data = {**data, "changes": {name: v for name, v in changes.items() if name not in command.unchanged}}
    return _change(state, command.actor.user_id, command.update_type, data, command.base_version, command.fresh_ids)


def _change(
    state: Trip,
    user_id: str,
    kind: str,
    data: dict[str, JSON],
    base: int | None,
    fresh_ids: tuple[str, ...] = (),
) -> PlanChange:
    """The plan change an update makes (``base``: the version the author saw, or None)."""
    ids = _Ids(fresh_ids)
    match kind:
        case "day_added":
            check_update(state, kind, data)
            new_day = dict(data["day"])
            new_day["dayId"] = ids.take(new_day.get("dayId"))
            if state.day(new_day["dayId"]) is not None:
                raise invalid("day.dayId", "a day with this id exists")
            return DayAdded(new_day)
        case "day_removed":
            _require_day(state, data["dayId"])
            return DayRemoved(data["dayId"])
        case "activity_added":
            check_update(state, kind, data)
            _require_day(state, data["dayId"])
            new_activity = dict(data["activity"])
            new_activity["activityId"] = ids.take(new_activity.get("activityId"))
            if state.has_activity(new_activity["activityId"]):
                raise invalid("activity.activityId", "an activity with this id exists")
            return ActivityAdded(data["dayId"], new_activity, data.get("index"))
        case "activity_updated":
            day, index = _require_activity(state, data)
            activity = day.activities[index]
            check_update(state, kind, {**data, "dayId": day.day_id})
            current = collab.activity_values(activity)
            changes = data["changes"]
            collab.check_fields(state, activity.activity_id, current, changes, base, user_id)
            replaced = collab.replaced_values(state, activity.activity_id, current, changes)
            return ActivityUpdated(day.day_id, activity.activity_id, changes, replaced)
        case "activity_removed":
            day, index = _require_activity(state, data)
            return ActivityRemoved(day.day_id, data["activityId"])
        case "activity_moved":
            day, index = _require_activity(state, data)
            target = _require_day(state, data.get("toDayId", day.day_id), "toDayId")
            place = {POSITION: {"dayId": day.day_id, "index": index}}
            collab.check_fields(state, data["activityId"], place, [POSITION], base, user_id)
            room = len(target.activities) - (1 if target.day_id == day.day_id else 0)
            to_index = min(data.get("toIndex", room), room)
            return ActivityMoved(day.day_id, data["activityId"], index, target.day_id, to_index)
        case "constraint_added":
            constraint = dict(data["constraint"])
            constraint["constraintId"] = ids.take(constraint.get("constraintId"))
            if state.constraint(constraint["constraintId"]) is not None:
                raise invalid("constraint.constraintId", "a constraint with this id exists")
            return ConstraintAdded(constraint)
        case "constraint_removed":
            _require_constraint(state, data["constraintId"])
            return ConstraintRemoved(data["constraintId"])
        case "day_updated":
            day = _require_day(state, data["dayId"])
            check_update(state, kind, data)
            current = collab.day_values(day)
            changes = data["changes"]
            collab.check_fields(state, day.day_id, current, changes, base, user_id)
            return DayUpdated(day.day_id, changes, collab.replaced_values(state, day.day_id, current, changes))
        case "constraint_updated":
            found = _require_constraint(state, data["constraintId"])
            current = collab.constraint_values(found)
            changes = data["changes"]
            collab.check_fields(state, found.constraint_id, current, changes, base, user_id)
            replaced = collab.replaced_values(state, found.constraint_id, current, changes)
            return ConstraintUpdated(found.constraint_id, changes, replaced)
    raise invalid("updateType", "unknown update type")


def _require_activity(state: Trip, data: dict[str, JSON]) -> tuple[Day, int]:
    """Where the activity is now (someone may have moved it to another day)."""
    if state.day(data["dayId"]) is None and data["dayId"] not in state.removed:
        raise invalid("dayId", "no such day in this trip")
    found = state.find_activity(data["activityId"])
    if found is None:
        if state.day(data["dayId"]) is None:
            raise collab.missing_item(state, data["dayId"], "dayId", "day")
        raise collab.missing_item(state, data["activityId"], "activityId", "activity")
    return found


def _require_constraint(state: Trip, constraint_id: str) -> Constraint:
    found = state.constraint(constraint_id)
    if found is None:
        raise collab.missing_item(state, constraint_id, "constraintId", "constraint")
    return found


def _revert(state: Trip, actor: Actor, kind: str, limits: TripLimits) -> Reverted:
    """Undo or redo the actor's latest change, unless someone else has changed its fields since."""
    steps = (state.undo_steps if kind == "undo" else state.redo_steps).get(actor.user_id, ())
    if not steps:
        raise invalid(kind, f"nothing to {kind}")
    step = steps[-1]
    clash = collab.undo_clash(state, step, actor.user_id, collab.removed_by(step, state))
    if clash is not None:
        raise clash
    check_update_limits(state, step.update_type, step.data, limits)
    try:
        effect = _change(state, actor.user_id, step.update_type, step.data, None)
    except CommandRefused as refused:
        if refused.code is ErrorCode.CONFLICT:
            raise
        raise CommandRefused(
            ErrorCode.CONFLICT,
            f"the {kind} no longer fits the trip: {refused.message}",
            {"currentVersion": state.version, "conflictsWith": [step.update_type], "reason": refused.details},
        ) from None
    return Reverted(kind, step.version, effect)


def _restore(state: Trip, to_version: int, target: Trip | None) -> TripRestored:
    if not 1 <= to_version < state.version or target is None:
        raise invalid("toVersion", f"must be an earlier version of this trip (1..{state.version - 1})")
    return TripRestored(
        to_version, tuple(d.to_json() for d in target.days), tuple(c.to_json() for c in target.constraints)
    )


def _require_day(state: Trip, day_id: str, field: str = "dayId") -> Day:
    day = state.day(day_id)
    if day is None:
        raise collab.missing_item(state, day_id, field, "day")
    return day


# evolve ---------------------------------------------------------------------------


def evolve(
    state: Trip | None,
    event: TripEvent,
    version: int,
    at: str,
    *,
    remember_changes: bool = True,
    by: str | None = None,
) -> Trip | None:
    """The trip after ``event``, which sits at position ``version`` of its stream;
    ``by``: who made it (the user of its record).

    ``remember_changes=False``: the state is for reading only (a replay's fold), so the
    recent changes of each item, the field marks and undo steps, which only ``decide``
    reads (conflicts, merges, undo), are not kept."""
    if isinstance(event, TripCreated):
        days = tuple(sorted((_day_from_json(d) for d in event.days), key=lambda d: d.date))
        trip = Trip(
            event.trip_id,
            event.title,
            event.owner_id,
            event.collaborators,
            days,
            (),
            version,
            at,
            places=places_of(days),
        )
        return collab.book_created(trip, event.days, version, by) if remember_changes else trip
    if state is None:
        return None
    if isinstance(event, ChatMessagePosted):
        return _replace(state, version=version)
    if isinstance(event, ChatMessageEdited | ChatMessageDeleted | ChatReactionsChanged):
        return _replace(state, version=version, chat_notes=_noted(state, event))
    after = _apply_update(state, event, version, at, remember_changes)
    return collab.book_change(state, after, event, version, by) if remember_changes else after


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


def _touched(state: Trip, version: int, update_type: str, item_ids: list[str]) -> SharedMap[str, tuple[Touch, ...]]:
    touches = state.touches
    touch = Touch(version, update_type)
    for item in item_ids:
        touches = touches.set(item, (*touches.get(item, ()), touch)[-TOUCH_HISTORY:])
    return touches


def _with_day(days: tuple[Day, ...], day_id: str, change: Any) -> tuple[Day, ...]:
    """The days with one changed (the others shared, not rebuilt)."""
    for index, day in enumerate(days):
        if day.day_id == day_id:
            return (*days[:index], change(day), *days[index + 1 :])
    return days


def _apply_update(state: Trip, event: TripUpdated, version: int, at: str, remember_changes: bool = True) -> Trip:
    days, constraints, collaborators, places = state.days, state.constraints, state.collaborators, state.places
    invite_epoch = state.invite_epoch
    touched: list[str] = []
    if isinstance(event, Reverted):
        event = event.effect
    match event:
        case CollaboratorAdded(user_id):
            collaborators = (*collaborators, user_id)
        case CollaboratorRemoved(user_id):
            collaborators = tuple(c for c in collaborators if c != user_id)
            invite_epoch += 1  # the invites made before cannot bring them back
        case InvitesRevoked():
            invite_epoch += 1
        case DayAdded(raw_day):
            day = _day_from_json(raw_day)
            days = tuple(sorted((*days, day), key=lambda d: d.date))
            for activity in day.activities:
                places = places.set(activity.activity_id, day.day_id)
            touched = [day.day_id]
        case DayRemoved(day_id):
            gone = state.day(day_id)
            days = tuple(d for d in days if d.day_id != day_id)
            touched = [day_id, *(a.activity_id for a in (gone.activities if gone else ()))]
            for activity_id in touched[1:]:
                places = places.without(activity_id)
        case ActivityAdded(day_id, raw_activity, index):
            activity = Activity.build(raw_activity["activityId"], raw_activity)
            days = _with_day(days, day_id, lambda d: _replace_day(d, _inserted(d.activities, activity, index)))
            if state.day(day_id) is not None:
                places = places.set(activity.activity_id, day_id)
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
            if places.get(target) == day_id:
                places = places.without(target)
            touched = [target]
        case ConstraintAdded(raw):
            constraints = (*constraints, _constraint_from_json(raw))
            touched = [raw["constraintId"]]
        case ConstraintRemoved(constraint_id):
            constraints = tuple(c for c in constraints if c.constraint_id != constraint_id)
            touched = [constraint_id]
        case DayUpdated(day_id, changes):
            days = tuple(sorted(_with_day(days, day_id, lambda d: _day_changed(d, changes)), key=lambda d: d.date))
            touched = [day_id]
        case ActivityMoved(day_id, target, _, to_day_id, to_index):
            found = state.find_activity(target)
            if found is not None:
                moving = found[0].activities[found[1]]
                days = _with_day(
                    days, day_id, lambda d: _replace_day(d, tuple(a for a in d.activities if a.activity_id != target))
                )
                days = _with_day(days, to_day_id, lambda d: _replace_day(d, _inserted(d.activities, moving, to_index)))
                places = places.set(target, to_day_id)
            touched = [target]
        case ConstraintUpdated(constraint_id, changes):
            constraints = tuple(
                _constraint_changed(c, changes) if c.constraint_id == constraint_id else c for c in constraints
            )
            touched = [constraint_id]
        case TripRestored(_, raw_days, raw_constraints):
            days = tuple(sorted((_day_from_json(d) for d in raw_days), key=lambda d: d.date))
            places = places_of(days)
            constraints = tuple(_constraint_from_json(c) for c in raw_constraints)
            touched = [*(d.day_id for d in days), *(c.constraint_id for c in constraints)]
    return _replace(
        state,
        days=days,
        constraints=constraints,
        collaborators=collaborators,
        places=places,
        invite_epoch=invite_epoch,
        version=version,
        updated_at=at,
        touches=_touched(state, version, update_type(event), touched)
        if touched and remember_changes
        else state.touches,
    )


def _replace_day(day: Day, activities: tuple[Activity, ...]) -> Day:
    return Day(day.day_id, day.date, day.title, activities)


def _inserted(activities: tuple[Activity, ...], activity: Activity, index: int | None) -> tuple[Activity, ...]:
    if index is None:
        return (*activities, activity)
    return (*activities[:index], activity, *activities[index:])


def _day_changed(day: Day, changes: dict[str, JSON]) -> Day:
    return Day(day.day_id, changes.get("date", day.date), changes.get("title", day.title), day.activities)


def _constraint_from_json(raw: dict[str, JSON]) -> Constraint:
    return Constraint(raw["constraintId"], raw["type"], raw["value"], raw.get("description"))


def _constraint_changed(constraint: Constraint, changes: dict[str, JSON]) -> Constraint:
    return Constraint(
        constraint.constraint_id,
        changes.get("type", constraint.type),
        changes.get("value", constraint.value),
        changes.get("description", constraint.description),
    )
