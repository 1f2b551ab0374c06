"""Sign-in helpers over REST: the people one can invite by name, WebSocket
tickets, and the ``--dev`` person picker (``service.signin``)."""

from __future__ import annotations

import ipaddress
import time

from domain import schemas
from domain.errors import CommandRefused, ErrorCode
from handlers.base import ApiHandler
from handlers.bounded import RestEdge
from service.auth import issue_token
from service.signin import PeopleDirectory, RealtimeTickets

DEV_TOKEN_SECONDS = 24 * 3600


class PeopleHandler(ApiHandler):
    """``GET /api/people``: names and ids to invite collaborators by."""

    def initialize(self, edge: RestEdge, people: PeopleDirectory) -> None:
        self.edge = edge
        self.people = people

    async def get(self) -> None:
        async def read() -> None:
            await self.people.met(self.authenticate())
            self.send_json({"people": [person.view() for person in await self.people.everyone()]})

        await self.answer(read)


class RealtimeTicketsHandler(ApiHandler):
    """``POST /api/realtime/tickets``: a single-use ticket for ``/ws?ticket=``."""

    def initialize(self, edge: RestEdge, people: PeopleDirectory, tickets: RealtimeTickets) -> None:
        self.edge = edge
        self.people = people
        self.tickets = tickets

    async def post(self) -> None:
        async def issue() -> None:
            identity = self.authenticate()
            await self.people.met(identity)
            self.send_json({"ticket": self.tickets.issue(identity), "expiresIn": self.tickets.seconds}, 201)

        await self.answer(issue)


class DevSignInHandler(ApiHandler):
    """``/api/dev/sign-in``: with ``--dev`` and from this machine only, the demo
    people (GET) and a token for one of them (POST ``{userId}``)."""

    def initialize(self, edge: RestEdge, people: PeopleDirectory, dev_secret: str | None) -> None:
        self.edge = edge
        self.people = people
        self.dev_secret = dev_secret  # the key tokens are signed with, with --dev only

    def _allowed(self) -> str:
        secret = self.dev_secret
        if secret is None:
            raise CommandRefused(ErrorCode.NOT_FOUND, "dev sign-in is only served with --dev")
        try:
            local = ipaddress.ip_address(self.request.remote_ip or "").is_loopback
        except ValueError:
            local = False
        if not local:
            raise CommandRefused(ErrorCode.FORBIDDEN, "dev sign-in answers this machine only")
        return secret

    async def get(self) -> None:
        async def read() -> None:
            self._allowed()
            self.send_json({"people": [person.view() for person in self.people.demo()]})

        await self.answer(read)

    async def post(self) -> None:
        async def sign_in() -> None:
            secret = self._allowed()
            wanted = schemas.check_body("dev_sign_in", self.json_body())["userId"]
            person = next((p for p in self.people.demo() if p.user_id == wanted), None)
            if person is None:
                raise CommandRefused(
                    ErrorCode.VALIDATION_ERROR, "userId: not a demo person", {"userId": ["must be a demo person"]}
                )
            expires = int(time.time()) + DEV_TOKEN_SECONDS
            token = issue_token(secret, person.user_id, role=person.role, name=person.name, expires_at=expires)
            self.send_json({"token": token, "userId": person.user_id, "name": person.name, "role": person.role})

        await self.answer(sign_in)
