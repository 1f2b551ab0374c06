"""Invite links: whoever may change a trip's collaborators (its owner or an admin) makes a
link; anyone signed in who opens it becomes a collaborator, through the one pipeline, as
if the inviter had added them by name (``AddCollaborator``, decided with the inviter as
the actor: an inviter who no longer manages the trip invites nobody; a trip too large to
grow refuses, ``domain.trip_limits``).

An invite is ``<payload>.<signature>`` (base64url): the payload names the trip, the
inviter (and whether they signed it as an admin) and the wall-clock moment it expires;
the signature is an HMAC-SHA256 under a key every node derives from the secret they share
(as WebSocket tickets and resume tokens), so a link made on one node works on any.  It
carries ids only, no names, and may be used by several people until it expires.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

import orjson

from domain.errors import CommandRefused, ErrorCode
from domain.ids import is_object_id
from domain.trip_decider import Actor, AddCollaborator
from domain.trip_model import Trip, can_manage
from service.auth import Identity
from service.clock import Clock, iso
from service.pipeline import Origin, Pipeline, Request
from service.trips import TripService

MAX_INVITE_LENGTH = 512
CREATED = "invite_created"


@dataclass(frozen=True, slots=True)
class Invite:
    token: str
    trip_id: str
    expires_at: dt.datetime

    def view(self) -> dict[str, str]:
        return {"invite": self.token, "tripId": self.trip_id, "expiresAt": iso(self.expires_at)}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


class TripInvites:
    def __init__(self, secret: bytes, clock: Clock, trips: TripService, pipeline: Pipeline, *, seconds: float) -> None:
        self._key = hmac.new(secret, b"travelsense trip invite", hashlib.sha256).digest()
        self._clock = clock
        self._trips = trips
        self._pipeline = pipeline
        self._seconds = seconds

    def _signature(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    async def create(self, origin: Origin, identity: Identity, trip_id: str) -> Invite:
        """An invite to the trip, made by one who may change its collaborators; recorded."""
        trip = await self._trips.visible_trip(identity, trip_id)
        if not can_manage(trip, identity.user_id, identity.is_admin):
            raise CommandRefused(ErrorCode.FORBIDDEN, "only the trip's owner or an admin may invite")
        expires_at = self._clock.now() + dt.timedelta(seconds=self._seconds)
        fields = [trip_id, identity.user_id, identity.is_admin, int(expires_at.timestamp() * 1000)]
        payload = _b64(orjson.dumps(fields))
        invite = Invite(f"{payload}.{self._signature(payload)}", trip_id, expires_at)
        await self._pipeline.record(
            Request(origin, "create_invite", None, trip_id=trip_id),
            ({"type": CREATED, "data": {"tripId": trip_id, "expiresAt": iso(expires_at)}},),
        )
        return invite

    def _opened(self, token: str) -> tuple[str, Actor]:
        """The trip and the inviter an invite names; refused if it is not one of ours or expired."""
        forged = CommandRefused(ErrorCode.FORBIDDEN, "not an invite link of this service")
        if len(token) > MAX_INVITE_LENGTH or not token.isascii() or token.count(".") != 1:
            raise forged
        payload, signature = token.split(".")
        if not hmac.compare_digest(signature, self._signature(payload)):
            raise forged
        try:
            trip_id, inviter, is_admin, until_ms = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
        except (ValueError, TypeError) as exc:  # signed by us, so never expected
            raise forged from exc
        if not (isinstance(trip_id, str) and is_object_id(trip_id) and isinstance(inviter, str)):
            raise forged
        if until_ms / 1000 <= self._clock.now().timestamp():
            raise CommandRefused(ErrorCode.FORBIDDEN, "this invite link has expired: ask for a new one")
        return trip_id, Actor(inviter, bool(is_admin))

    async def accept(self, origin: Origin, identity: Identity, token: str) -> Trip:
        """The caller a collaborator of the invite's trip (the trip as it is then)."""
        trip_id, inviter = self._opened(token)
        request = Request(origin, "accept_invite", {"invitedBy": inviter.user_id}, trip_id=trip_id)
        outcome = await self._pipeline.run(request, AddCollaborator(inviter, identity.user_id))
        assert outcome.trip is not None
        return outcome.trip
