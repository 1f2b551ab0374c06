"""``GET /api/audit/read-model``: this node's read model, for ``python app.py replay --live``.

Admins only.  The node first catches up with the whole log (every trip stream
in it, the notifications, the audit views), then answers
``{"position": P, "readModel": {"trips", "chat", "notifications", "audit"}}``,
``P`` being the last log position the audit views folded.  Personal data is
answered sealed, as the log keeps it (``service/privacy.py``).  The read is an admin
action, so it is recorded (``admin_read_model``) before the catch-up, which
therefore includes it.
"""

from __future__ import annotations

from typing import Any, Protocol

from handlers.admin import AdminApiHandler
from handlers.bounded import RestEdge
from service.pipeline import Request


class WholeModel(Protocol):
    """The read side (``projections.read_side.ReadSide``), as this handler uses it."""

    async def whole_model(self) -> tuple[int, dict[str, Any]]: ...


class ReadModelHandler(AdminApiHandler):
    command_name = "admin_read_model"

    def initialize(self, edge: RestEdge, read_side: WholeModel) -> None:
        self.edge = edge
        self.read_side = read_side

    async def get(self) -> None:
        async def read() -> None:
            self.require_admin()
            await self.edge.pipeline.record(
                Request(self.origin, self.command_name), ({"type": "read_model_read", "data": {}},)
            )
            position, model = await self.read_side.whole_model()
            # sealed, as a rebuild from the log folds it: ``replay --live`` compares without keys
            self.send_json({"position": position, "readModel": model}, sealed=True)

        await self.admin(read, self.command_name)
