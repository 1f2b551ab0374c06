"""Audit views, folded from every record of the log in position order.

* ``commands``: per command, how many records were accepted and refused;
* ``refusals``: per error code, how many commands were refused;
* ``users``: per user, how many records, how many refused, and when the last one was;
* ``connections``: the sessions the log shows connected (or resumed) and not
  disconnected (a node that died leaves its sessions here until a
  ``sessions_lost`` record says they went),
  each with its user, when it connected and the rooms it sits in.

Like the other projections it is derived from the log only, so a rebuild and a
node that caught up give the same views.
"""

from __future__ import annotations

from typing import Any

from eventlog.records import ACCEPTED, RecordView
from projections.sessions import CLOSE_TAKEN_OVER

JOINED = ("join_trip_room",)
LEFT = ("leave_trip_room", "room_access_revoked")


SESSION_COMMANDS = frozenset({"connect", "disconnect", "resume", *JOINED, *LEFT})


class AuditViews:
    def __init__(self) -> None:
        self.position = 0
        self._counts: dict[tuple[str, str], int] = {}  # (command, outcome) -> records
        self._refusals: dict[str, int] = {}
        self._users: dict[str, list[Any]] = {}  # user -> [records, refused, last at]
        self._sessions: dict[str, dict[str, Any]] = {}
        self.streams: set[str] = set()  # every trip stream the log holds

    def apply(self, record: RecordView) -> bool:
        if record.position <= self.position:
            return False
        self.position = record.position
        key = (record.command, record.outcome)
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1
        refused = key[1] != ACCEPTED
        if refused:
            code = record.error_code or "?"
            self._refusals[code] = self._refusals.get(code, 0) + 1
        user_id = record.user_id
        if user_id is not None:
            user = self._users.get(user_id)
            if user is None:
                self._users[user_id] = [1, int(refused), record.at]
            else:
                user[0] += 1
                user[1] += refused
                user[2] = record.at
        if record.version is not None and record.stream is not None:
            self.streams.add(record.stream)
        elif not refused and key[0] in SESSION_COMMANDS and record.session_id is not None:
            self._session(record)
        elif not refused and key[0] == "sessions_lost":
            for event in record.events:  # their node died: the log never heard them go
                for session_id in event.get("data", {}).get("sessionIds", ()):
                    self._sessions.pop(session_id, None)
        return True

    def _session(self, record: RecordView) -> None:
        command, session_id = record.command, record.session_id
        assert session_id is not None
        if command == "connect":
            self._sessions[session_id] = {"userId": record.user_id, "connectedAt": record.at, "rooms": set()}
        elif command == "disconnect":
            if next((e.get("data", {}).get("code") for e in record.events), None) != CLOSE_TAKEN_OVER:
                self._sessions.pop(session_id, None)  # (a connection a resume took over: the session goes on)
        elif command == "resume":  # back, on any node, in the rooms it was given back
            rooms = next((e.get("data", {}).get("rooms") for e in record.events), None) or []
            connected_at = self._sessions.get(session_id, {}).get("connectedAt", record.at)
            self._sessions[session_id] = {"userId": record.user_id, "connectedAt": connected_at, "rooms": set(rooms)}
        elif record.trip_id is not None and session_id in self._sessions:
            if command in JOINED:
                self._sessions[session_id]["rooms"].add(record.trip_id)
            elif command in LEFT:
                self._sessions[session_id]["rooms"].discard(record.trip_id)

    def snapshot(self) -> dict[str, Any]:
        commands: dict[str, dict[str, int]] = {}
        for (command, outcome), count in sorted(self._counts.items()):
            commands.setdefault(command, {})[outcome] = count
        return {
            "commands": commands,
            "refusals": dict(sorted(self._refusals.items())),
            "users": {
                user: {"records": records, "refused": refused, "lastAt": at}
                for user, (records, refused, at) in sorted(self._users.items())
            },
            "connections": {
                session: {**view, "rooms": sorted(view["rooms"])} for session, view in sorted(self._sessions.items())
            },
        }
