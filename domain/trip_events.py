"""What happens to a trip (past tense), one class per kind, and their form in the log.

In the log a plan change keeps the wire's shape, ``{"type": "trip_updated", "data":
{"updateType": NAME, "data": {...}}}``; in memory each update type is its own class,
so ``evolve`` dispatches on the type and a field is named, not looked up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JSON = Any

NOTIFICATION_CREATED = "notification_created"
CHAT_MESSAGE_EDITED = "chat_message_edited"
CHAT_MESSAGE_DELETED = "chat_message_deleted"
CHAT_REACTIONS_CHANGED = "chat_reactions_changed"


@dataclass(frozen=True, slots=True)
class TripCreated:
    trip_id: str
    title: str
    owner_id: str
    collaborators: tuple[str, ...]
    days: tuple[dict[str, JSON], ...]


@dataclass(frozen=True, slots=True)
class CollaboratorAdded:
    user_id: str


@dataclass(frozen=True, slots=True)
class CollaboratorRemoved:
    user_id: str


@dataclass(frozen=True, slots=True)
class InvitesRevoked:
    """Every invite link made before it stops working (as one made before a removal does)."""


@dataclass(frozen=True, slots=True)
class DayAdded:
    day: dict[str, JSON]  # with its dayId; activities (with their ids) optional


@dataclass(frozen=True, slots=True)
class DayRemoved:
    day_id: str


@dataclass(frozen=True, slots=True)
class ActivityAdded:
    day_id: str
    activity: dict[str, JSON]  # with its activityId
    index: int | None = None  # its place in the day (None: last); an undone removal puts it back


@dataclass(frozen=True, slots=True)
class ActivityUpdated:
    day_id: str
    activity_id: str
    changes: dict[str, JSON]  # a None value unsets the field (undo of a field set first)
    # field -> {"value"?, "by", "version"}: what each change replaced (None: an older log)
    replaced: dict[str, JSON] | None = None


@dataclass(frozen=True, slots=True)
class ActivityRemoved:
    day_id: str
    activity_id: str


@dataclass(frozen=True, slots=True)
class ConstraintAdded:
    constraint: dict[str, JSON]  # with its constraintId


@dataclass(frozen=True, slots=True)
class ConstraintRemoved:
    constraint_id: str


@dataclass(frozen=True, slots=True)
class DayUpdated:
    day_id: str
    changes: dict[str, JSON]  # title, date (a None title unsets it)
    replaced: dict[str, JSON] | None = None


@dataclass(frozen=True, slots=True)
class ActivityMoved:
    """One activity to another place, in its day or another one: one event, so it is never gone."""

    day_id: str  # where it was
    activity_id: str
    from_index: int
    to_day_id: str
    to_index: int  # its place in the target day once it is out of its old place


@dataclass(frozen=True, slots=True)
class ConstraintUpdated:
    constraint_id: str
    changes: dict[str, JSON]  # type, value, description (a None description unsets it)
    replaced: dict[str, JSON] | None = None


@dataclass(frozen=True, slots=True)
class TripRestored:
    """The plan as it was at ``to_version``: its days and constraints, whole."""

    to_version: int
    days: tuple[dict[str, JSON], ...]
    constraints: tuple[dict[str, JSON], ...]


PlanChange = (
    DayAdded
    | DayRemoved
    | ActivityAdded
    | ActivityUpdated
    | ActivityRemoved
    | ConstraintAdded
    | ConstraintRemoved
    | DayUpdated
    | ActivityMoved
    | ConstraintUpdated
)
"""A change to the plan that a person can undo."""


@dataclass(frozen=True, slots=True)
class Reverted:
    """A person's undo (or redo) of their change at ``of_version``: ``effect`` is a plain
    plan change, so the wire and clients see its own update type, with ``undoes`` (or
    ``redoes``) beside its data."""

    kind: str  # "undo" or "redo"
    of_version: int
    effect: PlanChange


TripUpdated = CollaboratorAdded | CollaboratorRemoved | InvitesRevoked | PlanChange | Reverted | TripRestored
"""A change to the plan, a collaborator added or removed, or the invites revoked (wire event
``trip_updated``)."""

REVERT_KEYS = {"undo": "undoes", "redo": "redoes"}


@dataclass(frozen=True, slots=True)
class ChatMessagePosted:
    message_id: str
    user_id: str
    name: str | None
    message: str
    type: str
    mentions: tuple[str, ...] = ()  # members the message names (each is notified, in the room or not)


@dataclass(frozen=True, slots=True)
class ChatMessageEdited:
    """The author changed a message's text (earlier texts stay in the log only)."""

    message_id: str
    user_id: str  # the author, who alone may edit
    message: str
    edited_at: str


@dataclass(frozen=True, slots=True)
class ChatMessageDeleted:
    """A message is gone: histories show a tombstone (who deleted it, when), never its text."""

    message_id: str
    user_id: str  # the author
    deleted_by: str
    deleted_at: str


@dataclass(frozen=True, slots=True)
class ChatReactionsChanged:
    """A member added or removed a reaction; ``reactions`` is the message's summary after it
    (so the room is told the whole of it, and a fold needs no earlier event)."""

    message_id: str
    author_id: str  # who wrote the message
    user_id: str  # who reacted
    emoji: str
    added: bool
    reactions: tuple[tuple[str, tuple[str, ...]], ...]  # (emoji, users), first reacted first


@dataclass(frozen=True, slots=True)
class NotificationCreated:
    """A member outside the room is told of a chat message (not a stream event: it rides
    in the same record as the message, after it)."""

    notification_id: str
    user_id: str
    trip_id: str
    message_id: str
    from_user_id: str
    preview: str
    kind: str = "chat_message"  # or "mention": the message names the user


@dataclass(frozen=True, slots=True)
class ChangeNotified:
    """A member outside the room is told that a change replaced values they set (or
    reverted their change: an undo, redo or restore); like ``NotificationCreated``, it
    rides in the change's record, after it.  ``changes``: one entry per field,
    ``{"itemId", "field", "from"?, "to"?, "removed"?, "yourVersion"}`` (``from``/``to``
    absent: the field had or has no value; ``removed``: its item is gone); ``more``:
    how many entries were left out."""

    notification_id: str
    user_id: str
    trip_id: str
    version: int  # the trip's version the change made
    update_type: str
    from_user_id: str
    from_name: str | None
    reverts: str | None  # "undo", "redo" or "restore" when the change reverted earlier ones
    changes: tuple[dict[str, JSON], ...]
    more: int = 0


CHANGE_REPLACED = "change_replaced"  # the kind of a ChangeNotified notification

ChatMessageChanged = ChatMessageEdited | ChatMessageDeleted | ChatReactionsChanged

TripEvent = TripCreated | TripUpdated | ChatMessagePosted | ChatMessageChanged
DecidedEvent = TripEvent | NotificationCreated | ChangeNotified


def update_type(event: TripUpdated) -> str:
    """The update's name on the wire and in the log."""
    if isinstance(event, Reverted):
        return _UPDATE_TYPES[type(event.effect)]
    return _UPDATE_TYPES[type(event)]


def _with_replaced(data: dict[str, JSON], replaced: dict[str, JSON] | None) -> dict[str, JSON]:
    if replaced is not None:
        data["replaced"] = replaced
    return data


def update_data(event: TripUpdated) -> dict[str, JSON]:
    """The update's ``data`` on the wire and in the log."""
    match event:
        case CollaboratorAdded(user_id) | CollaboratorRemoved(user_id):
            return {"userId": user_id}
        case InvitesRevoked():
            return {}
        case DayAdded(day):
            return {"day": day}
        case DayRemoved(day_id):
            return {"dayId": day_id}
        case ActivityAdded(day_id, activity, index):
            added = {"dayId": day_id, "activity": activity}
            return added if index is None else {**added, "index": index}
        case ActivityUpdated(day_id, activity_id, changes, replaced):
            return _with_replaced({"dayId": day_id, "activityId": activity_id, "changes": changes}, replaced)
        case ActivityRemoved(day_id, activity_id):
            return {"dayId": day_id, "activityId": activity_id}
        case ConstraintAdded(constraint):
            return {"constraint": constraint}
        case ConstraintRemoved(constraint_id):
            return {"constraintId": constraint_id}
        case DayUpdated(day_id, changes, replaced):
            return _with_replaced({"dayId": day_id, "changes": changes}, replaced)
        case ActivityMoved(day_id, activity_id, from_index, to_day_id, to_index):
            return {
                "dayId": day_id,
                "activityId": activity_id,
                "fromIndex": from_index,
                "toDayId": to_day_id,
                "toIndex": to_index,
            }
        case ConstraintUpdated(constraint_id, changes, replaced):
            return _with_replaced({"constraintId": constraint_id, "changes": changes}, replaced)
        case TripRestored(to_version, days, constraints):
            return {"toVersion": to_version, "days": list(days), "constraints": list(constraints)}
        case Reverted(kind, of_version, effect):
            return {**update_data(effect), REVERT_KEYS[kind]: of_version}


def update_from_json(name: str, data: dict[str, JSON]) -> TripUpdated:
    for kind, key in REVERT_KEYS.items():
        if key in data:
            effect = update_from_json(name, {k: v for k, v in data.items() if k != key})
            assert isinstance(effect, PlanChange)
            return Reverted(kind, data[key], effect)
    match name:
        case "collaborator_added":
            return CollaboratorAdded(data["userId"])
        case "collaborator_removed":
            return CollaboratorRemoved(data["userId"])
        case "invites_revoked":
            return InvitesRevoked()
        case "day_added":
            return DayAdded(data["day"])
        case "day_removed":
            return DayRemoved(data["dayId"])
        case "activity_added":
            return ActivityAdded(data["dayId"], data["activity"], data.get("index"))
        case "activity_updated":
            return ActivityUpdated(data["dayId"], data["activityId"], data["changes"], data.get("replaced"))
        case "activity_removed":
            return ActivityRemoved(data["dayId"], data["activityId"])
        case "constraint_added":
            return ConstraintAdded(data["constraint"])
        case "constraint_removed":
            return ConstraintRemoved(data["constraintId"])
        case "day_updated":
            return DayUpdated(data["dayId"], data["changes"], data.get("replaced"))
        case "activity_moved":
            return ActivityMoved(data["dayId"], data["activityId"], data["fromIndex"], data["toDayId"], data["toIndex"])
        case "constraint_updated":
            return ConstraintUpdated(data["constraintId"], data["changes"], data.get("replaced"))
        case "trip_restored":
            return TripRestored(data["toVersion"], tuple(data["days"]), tuple(data["constraints"]))
    raise ValueError(f"not an update type: {name!r}")


_UPDATE_TYPES: dict[type, str] = {
    CollaboratorAdded: "collaborator_added",
    CollaboratorRemoved: "collaborator_removed",
    InvitesRevoked: "invites_revoked",
    DayAdded: "day_added",
    DayRemoved: "day_removed",
    ActivityAdded: "activity_added",
    ActivityUpdated: "activity_updated",
    ActivityRemoved: "activity_removed",
    ConstraintAdded: "constraint_added",
    ConstraintRemoved: "constraint_removed",
    DayUpdated: "day_updated",
    ActivityMoved: "activity_moved",
    ConstraintUpdated: "constraint_updated",
    TripRestored: "trip_restored",
}


def event_to_json(event: DecidedEvent) -> dict[str, JSON]:
    match event:
        case TripCreated():
            return {
                "type": "trip_created",
                "data": {
                    "tripId": event.trip_id,
                    "title": event.title,
                    "ownerId": event.owner_id,
                    "collaborators": list(event.collaborators),
                    "days": list(event.days),
                },
            }
        case ChatMessagePosted():
            body: dict[str, JSON] = {"messageId": event.message_id, "userId": event.user_id}
            if event.name is not None:
                body["name"] = event.name
            body.update(message=event.message, type=event.type)
            if event.mentions:
                body["mentions"] = list(event.mentions)
            return {"type": "chat_message", "data": body}
        case ChatMessageEdited():
            return {
                "type": CHAT_MESSAGE_EDITED,
                "data": {
                    "messageId": event.message_id,
                    "userId": event.user_id,
                    "message": event.message,
                    "editedAt": event.edited_at,
                },
            }
        case ChatMessageDeleted():
            return {
                "type": CHAT_MESSAGE_DELETED,
                "data": {
                    "messageId": event.message_id,
                    "userId": event.user_id,
                    "deletedBy": event.deleted_by,
                    "deletedAt": event.deleted_at,
                },
            }
        case ChatReactionsChanged():
            return {
                "type": CHAT_REACTIONS_CHANGED,
                "data": {
                    "messageId": event.message_id,
                    "authorId": event.author_id,
                    "userId": event.user_id,
                    "emoji": event.emoji,
                    "added": event.added,
                    "reactions": [{"emoji": emoji, "userIds": list(users)} for emoji, users in event.reactions],
                },
            }
        case NotificationCreated():
            return {
                "type": NOTIFICATION_CREATED,
                "data": {
                    "notificationId": event.notification_id,
                    "userId": event.user_id,
                    "kind": event.kind,
                    "tripId": event.trip_id,
                    "messageId": event.message_id,
                    "fromUserId": event.from_user_id,
                    "preview": event.preview,
                },
            }
        case ChangeNotified():
            notice: dict[str, JSON] = {
                "notificationId": event.notification_id,
                "userId": event.user_id,
                "kind": CHANGE_REPLACED,
                "tripId": event.trip_id,
                "version": event.version,
                "updateType": event.update_type,
                "fromUserId": event.from_user_id,
            }
            if event.from_name is not None:
                notice["fromName"] = event.from_name
            if event.reverts is not None:
                notice["reverts"] = event.reverts
            notice["changes"] = list(event.changes)
            if event.more:
                notice["more"] = event.more
            return {"type": NOTIFICATION_CREATED, "data": notice}
        case _:
            return {"type": "trip_updated", "data": {"updateType": update_type(event), "data": update_data(event)}}


def event_from_json(raw: dict[str, JSON]) -> TripEvent:
    data = raw["data"]
    match raw["type"]:
        case "trip_created":
            return TripCreated(
                data["tripId"], data["title"], data["ownerId"], tuple(data["collaborators"]), tuple(data["days"])
            )
        case "trip_updated":
            return update_from_json(data["updateType"], data["data"])
        case "chat_message":
            return ChatMessagePosted(
                data["messageId"],
                data["userId"],
                data.get("name"),
                data["message"],
                data["type"],
                tuple(data.get("mentions", ())),
            )
        case "chat_message_edited":
            return ChatMessageEdited(data["messageId"], data["userId"], data["message"], data["editedAt"])
        case "chat_message_deleted":
            return ChatMessageDeleted(data["messageId"], data["userId"], data["deletedBy"], data["deletedAt"])
        case "chat_reactions_changed":
            reactions = tuple((item["emoji"], tuple(item["userIds"])) for item in data["reactions"])
            return ChatReactionsChanged(
                data["messageId"], data["authorId"], data["userId"], data["emoji"], data["added"], reactions
            )
    raise ValueError(f"not a trip event: {raw['type']!r}")
