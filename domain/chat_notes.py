"""What a trip remembers of its chat messages that were changed after they were posted.

A message as posted lives in the log and the chat histories; the trip's state only
keeps a note for a message edited or deleted since, so that ``decide`` can tell who
wrote it and whether it is gone, and every history page (held, or read from the
store) shows its current form.  A deleted message's note keeps no text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ChatNote:
    author_id: str
    message: str | None = None  # the current text of an edited message (None: as posted, or deleted)
    edited_at: str | None = None
    deleted_by: str | None = None
    deleted_at: str | None = None

    @property
    def deleted(self) -> bool:
        return self.deleted_by is not None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"authorId": self.author_id}
        if self.deleted_by is not None:
            out.update(deletedBy=self.deleted_by, deletedAt=self.deleted_at)
        elif self.message is not None:
            out.update(message=self.message, editedAt=self.edited_at)
        return out

    @staticmethod
    def from_json(raw: dict[str, Any]) -> ChatNote:
        return ChatNote(
            raw["authorId"], raw.get("message"), raw.get("editedAt"), raw.get("deletedBy"), raw.get("deletedAt")
        )


_TEXT_FIELDS = frozenset({"message", "edited", "editedAt"})


def noted_view(view: dict[str, Any], note: ChatNote | None) -> dict[str, Any]:
    """A message view (``projections/chat.py``) in its current form: edited, or a tombstone."""
    if note is None:
        return view
    if note.deleted:
        tombstone = {key: value for key, value in view.items() if key not in _TEXT_FIELDS}
        tombstone.update(deleted=True, deletedBy=note.deleted_by, deletedAt=note.deleted_at)
        return tombstone
    if note.message is not None:
        return {**view, "message": note.message, "edited": True, "editedAt": note.edited_at}
    return view
