"""Signing in without pasting tokens: the people the server knows, short-lived
WebSocket tickets, and the ``--dev`` signing secret kept beside the store.

A browser that opens ``/ws?token=JWT`` leaves its long-lived token in the
address of every failed upgrade it logs; a ticket is what goes there instead:
bought over REST with the bearer token, good for one upgrade within
``TICKET_SECONDS``, on the node that issued it.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from service.auth import Identity, InvalidToken
from service.clock import Clock

TICKET_SECONDS = 30.0
DEV_SECRET_FILE = "dev-secret"


@dataclass(frozen=True, slots=True)
class Person:
    user_id: str
    name: str
    role: str = "user"

    def view(self) -> dict[str, str]:
        return {"userId": self.user_id, "name": self.name}


class PeopleDirectory:
    """Who can be invited by name: the demo people (``--dev``) and everyone who
    signed in on this node since it started (their token's ``name``)."""

    def __init__(self, known: tuple[Person, ...] = ()) -> None:
        self._people: dict[str, Person] = {person.user_id: person for person in known}
        self._demo = tuple(known)

    def met(self, identity: Identity) -> None:
        if identity.name and identity.user_id not in self._people:
            self._people[identity.user_id] = Person(identity.user_id, identity.name, identity.role)

    def everyone(self) -> list[Person]:
        return sorted(self._people.values(), key=lambda person: (person.name.casefold(), person.user_id))

    def demo(self) -> tuple[Person, ...]:
        return self._demo


class RealtimeTickets:
    """Single-use tickets for ``/ws?ticket=``, each standing for the identity that bought it."""

    def __init__(self, clock: Clock, seconds: float = TICKET_SECONDS) -> None:
        self._clock = clock
        self._seconds = seconds
        self._open: dict[str, tuple[Identity, float]] = {}

    def issue(self, identity: Identity) -> str:
        now = self._clock.monotonic()
        self._open = {key: held for key, held in self._open.items() if held[1] > now}
        ticket = secrets.token_urlsafe(24)
        self._open[ticket] = (identity, now + self._seconds)
        return ticket

    @property
    def seconds(self) -> float:
        return self._seconds

    def redeem(self, ticket: str) -> Identity:
        held = self._open.pop(ticket, None)
        if held is None:
            raise InvalidToken("unknown or used ticket")
        identity, until = held
        if until <= self._clock.monotonic():
            raise InvalidToken("ticket expired")
        return identity


def dev_secret_path(store_url: str) -> Path:
    """Beside an SQLite store's file; in ``data/`` for any other store."""
    if store_url.startswith("sqlite:///"):
        return Path(store_url[len("sqlite:///") :] or "data/events.db").parent / DEV_SECRET_FILE
    return Path("data") / DEV_SECRET_FILE


def dev_secret(path: Path) -> str:
    """The ``--dev`` signing secret: made once and kept, so a restart signs nobody out."""
    try:
        kept = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        kept = ""
    if kept:
        return kept
    path.parent.mkdir(parents=True, exist_ok=True)
    made = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(made + "\n")
    return made
