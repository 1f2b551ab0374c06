"""What a serving node runs besides serving: the metrics sampler and, with a
checkpoint key, the signed checkpoints.  ``app.serve`` starts it once the node
listens; ``app.drain`` closes it with the other adapters in ``services.closing``:
after the sockets are closed and the commands in flight are logged, before the
store closes, so the last checkpoint covers them."""

from __future__ import annotations

from dataclasses import dataclass

from service.checkpointer import Checkpointer
from service.container import Services
from service.sampler import Sampler


@dataclass
class Operations:
    sampler: Sampler
    checkpointer: Checkpointer | None

    async def close(self) -> None:
        await self.sampler.stop()
        if self.checkpointer is not None:
            await self.checkpointer.stop()


async def start_operations(services: Services) -> Operations:
    hub, settings = services.hub, services.settings
    services.metrics.track_hub(hub.room_count, hub.queued_bytes)
    read_side = services.read_side
    sampler = Sampler(services.metrics, services.store.head_position, lambda: read_side.folded).start()
    checkpointer = None
    if settings.checkpoint_key:
        checkpointer = await Checkpointer(
            services.store,
            services.pipeline,
            settings.checkpoint_key,
            services.bus.node_id,
            settings.checkpoint_interval_seconds,
        ).start()
    operations = Operations(sampler, checkpointer)
    services.closing.append(operations)
    return operations
