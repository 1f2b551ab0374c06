"""Everything a handler may call, wired once by ``app.build``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from config import Settings
from eventlog.ports import EventBus
from eventlog.sealing import Opener
from projections.read_side import ReadSide
from service.admin import AdminService, SecurityEvents
from service.admission import Admission
from service.announcements import AnnouncementService
from service.auth import TokenVerifier
from service.broadcaster import Broadcaster
from service.clock import Clock
from service.directory import ConnectionDirectory
from service.erasure import Erasure, MessageShredder
from service.hub import Hub
from service.ids import ObjectIdFactory
from service.invites import TripInvites
from service.metrics import MeteredStore, Metrics
from service.notifications import NotificationService
from service.pipeline import Pipeline
from service.presence import RoomRosters
from service.rooms import RoomService
from service.session import SessionServices
from service.sessions import SessionService
from service.signin import PeopleDirectory, RealtimeTickets
from service.trip_history import TripHistory
from service.trips import TripService


class Closeable(Protocol):
    async def close(self) -> None: ...


@dataclass
class Lifecycle:
    draining: bool = False


@dataclass
class Services:
    settings: Settings
    store: MeteredStore
    bus: EventBus
    read_side: ReadSide
    pipeline: Pipeline
    verifier: TokenVerifier
    clock: Clock
    new_id: ObjectIdFactory
    hub: Hub
    rosters: RoomRosters
    broadcaster: Broadcaster
    trips: TripService
    rooms: RoomService
    notifications: NotificationService
    announcements: AnnouncementService
    session: SessionServices
    metrics: Metrics
    directory: ConnectionDirectory
    admin: AdminService
    security: SecurityEvents
    admission: Admission
    history: TripHistory
    sessions: SessionService
    tickets: RealtimeTickets  # WebSocket tickets, good on any node, once
    people: PeopleDirectory  # who can be invited by name
    invites: TripInvites  # invite links to trips
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    background: set[asyncio.Task[None]] = field(default_factory=set)
    closing: list[Closeable] = field(default_factory=list)  # more adapters, closed after the bus, in order
    followers: list[asyncio.Future[None]] = field(default_factory=list)  # long-lived tasks, cancelled on drain
    opener: Opener | None = None  # opens sealed personal data in answers (None: nothing is sealed)
    erasure: Erasure | None = None  # None: nothing is sealed, nothing can be erased
    shredder: MessageShredder | None = None  # destroys a deleted chat message's keys
