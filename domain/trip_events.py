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
class DayAdded:
    day: dict[str, JSON]  # with its dayId; activities (with their ids) optional


@dataclass(frozen=True, slots=True)
class DayRemoved:
    day_id: str


@dataclass(frozen=True, slots=True)
class ActivityAdded:
    day_id: str
    activity: dict[str, JSON]  # with its activityId


@dataclass(frozen=True, slots=True)
class ActivityUpdated:
    day_id: str
    activity_id: str
    changes: dict[str, JSON]


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


TripUpdated = (
    CollaboratorAdded
    | CollaboratorRemoved
    | DayAdded
    | DayRemoved
    | ActivityAdded
    | ActivityUpdated
    | ActivityRemoved
    | ConstraintAdded
    | ConstraintRemoved
)
"""A change to the plan, or a collaborator added or removed (wire event ``trip_updated``)."""


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


ChatMessageChanged = ChatMessageEdited | ChatMessageDeleted | ChatReactionsChanged

TripEvent = TripCreated | TripUpdated | ChatMessagePosted | ChatMessageChanged
DecidedEvent = TripEvent | NotificationCreated


def update_type(event: TripUpdated) -> str:
    """The update's name on the wire and in the log."""
    return _UPDATE_TYPES[type(event)]


def update_data(event: TripUpdated) -> dict[str, JSON]:
    """The update's ``data`` on the wire and in the log."""
    match event:
        case CollaboratorAdded(user_id) | CollaboratorRemoved(user_id):
            return {"userId": user_id}
        case DayAdded(day):
            return {"day": day}
        case DayRemoved(day_id):
            return {"dayId": day_id}
        case ActivityAdded(day_id, activity):
            return {"dayId": day_id, "activity": activity}
        case ActivityUpdated(day_id, activity_id, changes):
            return {"dayId": day_id, "activityId": activity_id, "changes": changes}
        case ActivityRemoved(day_id, activity_id):
            return {"dayId": day_id, "activityId": activity_id}
        case ConstraintAdded(constraint):
            return {"constraint": constraint}
        case ConstraintRemoved(constraint_id):
            return {"constraintId": constraint_id}


def update_from_json(name: str, data: dict[str, JSON]) -> TripUpdated:
    match name:
        case "collaborator_added":
            return CollaboratorAdded(data["userId"])
        case "collaborator_removed":
            return CollaboratorRemoved(data["userId"])
        case "day_added":
            return DayAdded(data["day"])
        case "day_removed":
            return DayRemoved(data["dayId"])
        case "activity_added":
            return ActivityAdded(data["dayId"], data["activity"])
        case "activity_updated":
            return ActivityUpdated(data["dayId"], data["activityId"], data["changes"])
        case "activity_removed":
            return ActivityRemoved(data["dayId"], data["activityId"])
        case "constraint_added":
            return ConstraintAdded(data["constraint"])
        case "constraint_removed":
            return ConstraintRemoved(data["constraintId"])
    raise ValueError(f"not an update type: {name!r}")


_UPDATE_TYPES: dict[type, str] = {
    CollaboratorAdded: "collaborator_added",
    CollaboratorRemoved: "collaborator_removed",
    DayAdded: "day_added",
    DayRemoved: "day_removed",
    ActivityAdded: "activity_added",
    ActivityUpdated: "activity_updated",
    ActivityRemoved: "activity_removed",
    ConstraintAdded: "constraint_added",
    ConstraintRemoved: "constraint_removed",
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
