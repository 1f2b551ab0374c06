"""Invite links: a trip's owner makes a link; anyone signed in who opens it becomes a
collaborator, through the one pipeline (``AcceptInvite``, decided by the trip as it is then:
the link works only while its inviter still owns the trip and no collaborator was removed
and no invite revoked since it was made, the trip's invite epoch; a trip too large to grow
refuses, ``domain.trip_limits``).  An admin makes none: an admin's authority is not signed
into a link, for the link would keep it for a week.

An invite is a ``SignedPayload`` (``service.signed``) naming the trip, its inviter, the
trip's invite epoch, the wall-clock moment it expires and a fresh id (recorded in
``invite_created``), signed under a key derived from the signing secret (as WebSocket
tickets): with a secret the nodes share (``RESUME_SECRET``, or the HS256 JWT secret) a link
made on one node works on any; without one it works only on the node that made it, until
it restarts.  It carries ids only, no names, and may be used by several people until it
expires or is revoked.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from domain.errors import CommandRefused, ErrorCode
from domain.ids import is_object_id
from domain.trip_decider import AcceptInvite, RevokeInvites
from domain.trip_model import Trip
from service.auth import Identity
from service.clock import Clock, iso
from service.pipeline import Origin, Pipeline, Request
from service.signed import SignedPayload
from service.trips import TripService, actor_of

MAX_INVITE_LENGTH = 512
CREATED = "invite_created"


@dataclass(frozen=True, slots=True)
class Invite:
    token: str
    trip_id: str
    expires_at: dt.datetime

    def view(self) -> dict[str, str]:
        return {"invite": self.token, "tripId": self.trip_id, "expiresAt": iso(self.expires_at)}


class TripInvites:
    def __init__(self, secret: bytes, clock: Clock, trips: TripService, pipeline: Pipeline, *, seconds: float) -> None:
        self._signed = SignedPayload(secret, b"travelsense trip invite")
        self._clock = clock
        self._trips = trips
        self._pipeline = pipeline
        self._seconds = seconds

    async def create(self, origin: Origin, identity: Identity, trip_id: str) -> Invite:
        """An invite to the trip, made by its owner; recorded (with its id, not itself)."""
        trip = await self._trips.visible_trip(identity, trip_id)
        if identity.user_id != trip.owner_id:
            raise CommandRefused(ErrorCode.FORBIDDEN, "only the trip's owner may make an invite link")
        expires_at = self._clock.now() + dt.timedelta(seconds=self._seconds)
        invite_id = secrets.token_hex(8)
        until_ms = int(expires_at.timestamp() * 1000)
        token = self._signed.sign([trip_id, identity.user_id, trip.invite_epoch, until_ms, invite_id])
        await self._pipeline.record(
            Request(origin, "create_invite", None, trip_id=trip_id),
            ({"type": CREATED, "data": {"tripId": trip_id, "inviteId": invite_id, "expiresAt": iso(expires_at)}},),
        )
        return Invite(token, trip_id, expires_at)

    def _opened(self, token: str) -> tuple[str, str, int, str]:
        """The trip, inviter, invite epoch and id an invite names; refused if it is not one of
        ours or expired."""
        forged = CommandRefused(ErrorCode.FORBIDDEN, "not an invite link of this service")
        fields = self._signed.open(token, MAX_INVITE_LENGTH)
        if fields is None or len(fields) != 5:
            raise forged
        trip_id, inviter, epoch, until_ms, invite_id = fields
        if not (isinstance(trip_id, str) and is_object_id(trip_id) and isinstance(inviter, str)):
            raise forged
        if not (isinstance(epoch, int) and isinstance(until_ms, int) and isinstance(invite_id, str)):
            raise forged
        if until_ms / 1000 <= self._clock.now().timestamp():
            raise CommandRefused(ErrorCode.FORBIDDEN, "this invite link has expired: ask for a new one")
        return trip_id, inviter, epoch, invite_id

    async def accept(self, origin: Origin, identity: Identity, token: str) -> Trip:
        """The caller a collaborator of the invite's trip (the trip as it is then)."""
        trip_id, inviter, epoch, invite_id = self._opened(token)
        request = Request(origin, "accept_invite", {"invitedBy": inviter, "inviteId": invite_id}, trip_id=trip_id)
        outcome = await self._pipeline.run(request, AcceptInvite(inviter, identity.user_id, epoch))
        assert outcome.trip is not None
        return outcome.trip

    async def revoke(self, origin: Origin, identity: Identity, trip_id: str) -> Trip:
        """Every invite to the trip made so far stops working (``invites_revoked``); for its
        owner or an admin."""
        await self._trips.visible_trip(identity, trip_id)
        request = Request(origin, "revoke_invites", None, trip_id=trip_id)
        outcome = await self._pipeline.run(request, RevokeInvites(actor_of(identity)))
        assert outcome.trip is not None
        return outcome.trip
