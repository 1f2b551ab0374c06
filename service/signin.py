"""Signing in without pasting tokens: the people the server knows, short-lived
WebSocket tickets, and the ``--dev`` signing secret kept beside the store.

A browser that opens ``/ws?token=JWT`` leaves its long-lived token in the
address of every failed upgrade it logs; a ticket is what goes there instead:
bought over REST with the bearer token, good for one upgrade within
``TICKET_SECONDS``, on any node (``RealtimeTickets``).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from domain.errors import CommandRefused, ErrorCode
from eventlog.people_port import PeopleSeen, SeenPerson
from eventlog.ports import StoreUnavailable
from eventlog.sealing import MASK, Opener
from eventlog.ticket_port import SpentTickets
from service.auth import Identity, InvalidToken
from service.clock import Clock
from service.signed import SignedPayload

TICKET_SECONDS = 30.0
log = logging.getLogger("travelsense.signin")
SPENT_MARGIN = 60.0  # seconds a spent ticket is remembered past its expiry: the clock skew between nodes
MAX_TICKET_LENGTH = 2048  # a long (sealed) display name makes a long ticket; far longer is not one of ours
DEV_SECRET_FILE = "dev-secret"


@dataclass(frozen=True, slots=True)
class Person:
    user_id: str
    name: str
    role: str = "user"

    def view(self) -> dict[str, str]:
        return {"userId": self.user_id, "name": self.name}


class PeopleDirectory:
    """Who can be invited by name: the demo people (``--dev``) and the people who signed in
    lately (their token's ``name``), the most recent ones only (``eventlog.people_port``:
    every node's on a shared Redis, kept across restarts; else this node's).

    Names are handed to the port sealed under each person's key (``seal_name``), so an
    erased person's name masks wherever it is kept, on every node: it is dropped (and
    forgotten) when read, and forgotten at once by the node that erased them
    (``service.reactions``)."""

    def __init__(
        self,
        seen: PeopleSeen,
        clock: Clock,
        known: tuple[Person, ...] = (),
        *,
        seal_name: Callable[[str, str | None], Awaitable[str | None]] | None = None,
        opener: Opener | None = None,
    ) -> None:
        self._seen = seen
        self._clock = clock
        self._demo = tuple(known)
        self._seal_name = seal_name  # None: personal data is not sealed (benchmarks)
        self._opener = opener

    async def met(self, identity: Identity) -> None:
        if not identity.name:
            return
        try:
            # their key read (or made) off the event loop; the ticket sealed next finds it held
            name: str | None = identity.name
            if self._seal_name is not None:
                name = await self._seal_name(identity.user_id, identity.name)
            assert name is not None
            await self._seen.saw(SeenPerson(identity.user_id, name, identity.role), self._clock.now().timestamp())
        except StoreUnavailable:  # best effort: a ticket or the list is not refused for it
            log.warning("the people directory is unavailable: a sign-in was not noted")

    async def everyone(self) -> list[Person]:
        people = {person.user_id: person for person in self._demo}
        recent = await self._seen.recent()
        opener = self._opener
        if opener is not None:
            # every key not held, in one read off the event loop (``service/hub.py`` does the same
            # for bus messages); a name whose key could not be read is left out this time
            try:
                await opener.read_ahead(seen.name for seen in recent)
            except StoreUnavailable as error:
                log.warning("could not read the keys of the names in the people directory: %s", error)
        for seen in recent:
            if opener is not None and opener.unheld(seen.name):
                continue  # (its key was not read: opening it would read the store on the loop)
            name = opener.open(seen.name) if opener is not None else seen.name
            if not isinstance(name, str) or name == MASK:  # erased: their key is gone
                await self._seen.forget(seen.user_id)
                continue
            people.setdefault(seen.user_id, Person(seen.user_id, name, seen.role))
        return sorted(people.values(), key=lambda person: (person.name.casefold(), person.user_id))

    async def forget(self, user_id: str) -> None:
        """An erased person: no longer listed, on any node sharing the port."""
        await self._seen.forget(user_id)

    def demo(self) -> tuple[Person, ...]:
        return self._demo


class RealtimeTickets:
    """Single-use tickets for ``/ws?ticket=``, each standing for the identity that bought it.

    A ticket is a ``SignedPayload`` (``service.signed``) naming the identity (its display name
    sealed, the bearer token's expiry), the wall-clock moment the ticket expires and a fresh
    id, signed under a key derived from ``secret`` (as resume tokens): with a secret the nodes
    share (``config.refusals`` requires one with Redis) a ticket bought on one node opens the
    socket on any other.  That it is used once, on whichever node, is kept by ``spent``
    (``eventlog.ticket_port``: Redis when the nodes share one, else this process).
    """

    def __init__(
        self,
        secret: bytes,
        spent: SpentTickets,
        clock: Clock,
        seconds: float = TICKET_SECONDS,
        *,
        seal_name: Callable[[str, str | None], str | None] | None = None,
        opener: Opener | None = None,
    ) -> None:
        self._signed = SignedPayload(secret, b"travelsense realtime ticket")
        self._spent = spent
        self._clock = clock
        self._seconds = seconds
        # the display name goes in the ticket sealed under the person's key: a ticket is in a URL,
        # which proxies log (None: personal data is not sealed, benchmarks)
        self._seal_name = seal_name
        self._opener = opener

    @property
    def seconds(self) -> float:
        return self._seconds

    def issue(self, identity: Identity) -> str:
        until_ms = int((self._clock.now().timestamp() + self._seconds) * 1000)
        name = self._seal_name(identity.user_id, identity.name) if self._seal_name is not None else identity.name
        return self._signed.sign(
            [identity.user_id, identity.role, name, identity.expires_at, until_ms, secrets.token_hex(12)]
        )

    async def redeem(self, ticket: str) -> Identity:
        """The identity a ticket stands for, spending it; ``InvalidToken`` for a forged, expired
        or used ticket, ``CommandRefused(UNAVAILABLE)`` when whether it was used cannot be known."""
        fields = self._signed.open(ticket, MAX_TICKET_LENGTH)
        if fields is None or len(fields) != 6:
            raise InvalidToken("not a ticket of this service")
        user_id, role, name, expires_at, until_ms, ticket_id = fields
        now = self._clock.now().timestamp()
        left = until_ms / 1000 - now
        if left <= 0:
            raise InvalidToken("ticket expired")
        if expires_at <= now:  # the sign-in that bought it ended since
            raise InvalidToken("the sign-in this ticket was bought with has expired")
        try:
            # remembered past its expiry by SPENT_MARGIN: another node's clock, a little behind
            # this one's, must not find it expired here yet unspent there
            first = await self._spent.spend(ticket_id, left + SPENT_MARGIN)
        except StoreUnavailable as exc:
            raise CommandRefused(ErrorCode.UNAVAILABLE, "tickets cannot be checked now, retry") from exc
        if not first:
            raise InvalidToken("ticket already used")
        if self._opener is not None and isinstance(name, str):
            name = self._opener.open(name)
            if name == MASK:  # erased since: no name
                name = None
        return Identity(user_id, role, name, expires_at)


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
