"""Admin broadcasts kept as announcements: who sent them, until when they are shown, and who
has read them.  An announcement is made once (with the broadcast) and read per user."""

from __future__ import annotations

import datetime as dt
from typing import Any

from domain.errors import CommandRefused, ErrorCode

ANNOUNCEMENT_CREATED = "announcement_created"
ANNOUNCEMENT_READ = "announcement_read"
DEFAULT_EXPIRY_SECONDS = 24 * 3600
MAX_EXPIRY_SECONDS = 30 * 24 * 3600


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def expires_at(at: str, seconds: int) -> str:
    """``at`` (ISO 8601 UTC) plus ``seconds``, in the same form."""
    return _iso(dt.datetime.fromisoformat(at.replace("Z", "+00:00")) + dt.timedelta(seconds=seconds))


def announce(
    announcement_id: str, body: dict[str, Any], admin_id: str, admin_name: str | None, at: str
) -> dict[str, Any]:
    """The ``announcement_created`` event of a broadcast (``body`` checked: message, type,
    and ``expiresInSeconds`` if given)."""
    sender: dict[str, Any] = {"userId": admin_id, "name": admin_name}
    return {
        "type": ANNOUNCEMENT_CREATED,
        "data": {
            "announcementId": announcement_id,
            "message": body["message"],
            "type": body["type"],
            "from": sender,
            "createdAt": at,
            "expiresAt": expires_at(at, body.get("expiresInSeconds", DEFAULT_EXPIRY_SECONDS)),
        },
    }


def read(announcement: dict[str, Any] | None, user_id: str, now: str) -> dict[str, Any]:
    """The ``announcement_read`` event of a user reading an announcement that is still shown."""
    if announcement is None or announcement["expiresAt"] <= now:
        raise CommandRefused(ErrorCode.NOT_FOUND, "no such announcement (or it has expired)")
    return {"type": ANNOUNCEMENT_READ, "data": {"announcementId": announcement["announcementId"], "userId": user_id}}
