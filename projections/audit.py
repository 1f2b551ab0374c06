"""Audit views, folded from every record of the log in position order.

* ``commands``: per command, how many records were accepted and refused;
* ``refusals``: per error code, how many commands were refused;
* ``users``: per user, how many records, how many refused, and when the last one was;
* ``connections``: the sessions the log shows connected and not disconnected
  (a node that died leaves its sessions here: the log never heard them go),
  each with its user, when it connected and the rooms it sits in.

Like the other projections it is derived from the log only, so a rebuild and a
node that caught up give the same views.
"""

from __future__ import annotations

from typing import Any

from eventlog.records import ACCEPTED, LogRecord

JOINED = ("join_trip_room",)
LEFT = ("leave_trip_room", "room_access_revoked")


class AuditViews:
    def __init__(self) -> None:
        self.position = 0
        self._commands: dict[str, dict[str, int]] = {}
        self._refusals: dict[str, int] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._sessions: dict[str, dict[str, Any]] = {}
        self.streams: set[str] = set()  # every trip stream the log holds

    def apply(self, record: LogRecord) -> bool:
        if record.position <= self.position:
            return False
        self.position = record.position
        outcome = record.outcome
        counts = self._commands.get(record.command)
        if counts is None:
            counts = self._commands[record.command] = {}
        counts[outcome] = counts.get(outcome, 0) + 1
        accepted = outcome == ACCEPTED
        if not accepted:
            code = record.error.get("code", "?") if isinstance(record.error, dict) else "?"
            self._refusals[code] = self._refusals.get(code, 0) + 1
        if record.user_id is not None:
            user = self._users.get(record.user_id)
            if user is None:
                user = self._users[record.user_id] = {"records": 0, "refused": 0, "lastAt": record.at}
            user["records"] += 1
            user["refused"] += not accepted
            user["lastAt"] = record.at
        if record.version is not None and record.stream is not None:
            self.streams.add(record.stream)
        elif accepted and record.session_id is not None:
            self._session(record)
        return True

    def _session(self, record: LogRecord) -> None:
        command, session_id = record.command, record.session_id
        assert session_id is not None
        if command == "connect":
            self._sessions[session_id] = {"userId": record.user_id, "connectedAt": record.at, "rooms": set()}
        elif command == "disconnect":
            self._sessions.pop(session_id, None)
        elif record.trip_id is not None and session_id in self._sessions:
            if command in JOINED:
                self._sessions[session_id]["rooms"].add(record.trip_id)
            elif command in LEFT:
                self._sessions[session_id]["rooms"].discard(record.trip_id)

    def snapshot(self) -> dict[str, Any]:
        return {
            "commands": {command: dict(sorted(counts.items())) for command, counts in sorted(self._commands.items())},
            "refusals": dict(sorted(self._refusals.items())),
            "users": {user: dict(view) for user, view in sorted(self._users.items())},
            "connections": {
                session: {**view, "rooms": sorted(view["rooms"])} for session, view in sorted(self._sessions.items())
            },
        }
