"""What a trip remembers of its chat messages that were changed after they were posted.

A message as posted lives in the log and the chat histories; the trip's state only
keeps a note for a message edited, reacted to or deleted since, so that ``decide`` can tell who
wrote it and whether it is gone, and every history page (held, or read from the
store) shows its current form.  A deleted message's note keeps no text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Reactions = tuple[tuple[str, tuple[str, ...]], ...]  # (emoji, the users who reacted with it), first reacted first


@dataclass(frozen=True, slots=True)
class ChatNote:
    author_id: str
    message: str | None = None  # the current text of an edited message (None: as posted, or deleted)
    edited_at: str | None = None
    deleted_by: str | None = None
    deleted_at: str | None = None
    reactions: Reactions = ()

    @property
    def deleted(self) -> bool:
        return self.deleted_by is not None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"authorId": self.author_id}
        if self.deleted_by is not None:
            out.update(deletedBy=self.deleted_by, deletedAt=self.deleted_at)
            return out
        if self.message is not None:
            out.update(message=self.message, editedAt=self.edited_at)
        if self.reactions:
            out["reactions"] = reactions_json(self.reactions)
        return out

    @staticmethod
    def from_json(raw: dict[str, Any]) -> ChatNote:
        return ChatNote(
            raw["authorId"],
            raw.get("message"),
            raw.get("editedAt"),
            raw.get("deletedBy"),
            raw.get("deletedAt"),
            reactions_from_json(raw.get("reactions", ())),
        )


def reactions_json(reactions: Reactions) -> list[dict[str, Any]]:
    """The per-message summary clients see: each emoji, how many reacted with it, and who."""
    return [{"emoji": emoji, "count": len(users), "userIds": list(users)} for emoji, users in reactions]


def reactions_from_json(raw: Any) -> Reactions:
    return tuple((item["emoji"], tuple(item["userIds"])) for item in raw)


def reacted(reactions: Reactions, user_id: str, emoji: str, add: bool) -> Reactions:
    """The reactions after ``user_id`` adds or removes ``emoji`` (an emoji nobody uses any more goes)."""
    out: list[tuple[str, tuple[str, ...]]] = []
    found = False
    for kind, users in reactions:
        if kind == emoji:
            found = True
            users = (
                (*users, user_id) if add and user_id not in users else tuple(u for u in users if u != user_id or add)
            )
        if users:
            out.append((kind, users))
    if add and not found:
        out.append((emoji, (user_id,)))
    return tuple(out)


_TEXT_FIELDS = frozenset({"message", "edited", "editedAt", "reactions"})


def noted_view(view: dict[str, Any], note: ChatNote | None) -> dict[str, Any]:
    """A message view (``projections/chat.py``) in its current form: edited, or a tombstone."""
    if note is None:
        return view
    if note.deleted:
        tombstone = {key: value for key, value in view.items() if key not in _TEXT_FIELDS}
        tombstone.update(deleted=True, deletedBy=note.deleted_by, deletedAt=note.deleted_at)
        return tombstone
    current = dict(view)
    if note.message is not None:
        current.update(message=note.message, edited=True, editedAt=note.edited_at)
    if note.reactions:
        current["reactions"] = reactions_json(note.reactions)
    else:
        current.pop("reactions", None)
    return current
