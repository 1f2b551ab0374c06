"""Admin broadcasts name their admin and are kept as announcements until they expire: users
who connect later get the ones they have not read, on any node, and mark them read over REST
(two nodes sharing SQLite, or the MongoDB adapter against nx-27017, and Redis)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_multi_node import (  # the stores and nodes of the multi-node suite
    ADA,
    ADMIN,
    BOB,
    bearer,
    mongo_base,  # noqa: F401 (a fixture store_url asks for)
    nodes,
    store_url,  # noqa: F401 (a fixture)
)
from tests.server import Client, token

pytestmark = pytest.mark.e2e


async def test_a_broadcast_names_its_admin_and_waits_for_users_who_were_away(
    store_url: str,  # noqa: F811
    redis_url: str,
    tmp_path: Path,
) -> None:
    with nodes(store_url, redis_url, tmp_path, "node-a", "node-b") as (a, b):
        admin = token(ADMIN, role="admin", name="Rita Admin")
        ada = await Client.connect(a, bearer(ADA))  # its first frame is `connected`
        status, sent = a.request(
            "POST", "/api/realtime/broadcast", body={"message": "Lisbon metro strike on Friday"}, bearer=admin
        )
        assert status == 200, sent
        live = (await ada.expect("broadcast"))["data"]
        assert live["broadcastId"] == sent["broadcastId"] and live["from"] == {"userId": ADMIN, "name": "Rita Admin"}
        assert live["type"] == "announcement" and live["expiresAt"] > live["timestamp"]
        status, short = a.request(
            "POST", "/api/realtime/broadcast", body={"message": "x", "expiresInSeconds": 10}, bearer=admin
        )
        assert status == 400, short  # at least a minute

        bob = await Client.connect(b, bearer(BOB))  # away when it was sent, on the other node
        waiting = await bob.next_frame()  # right after `connected`
        assert waiting["event"] == "broadcast" and waiting["data"] == live
        status, listed = b.request("GET", "/api/announcements", bearer=bearer(BOB))
        assert status == 200 and [(x["announcementId"], x["read"]) for x in listed["announcements"]] == [
            (sent["broadcastId"], False)
        ]
        status, marked = a.request("POST", f"/api/announcements/{sent['broadcastId']}/read", bearer=bearer(BOB))
        assert status == 200 and marked["read"] is True and marked["from"]["name"] == "Rita Admin", marked
        status, missing = a.request("POST", f"/api/announcements/{'e' * 24}/read", bearer=bearer(BOB))
        assert status == 404, missing
        await bob.close()

        again = await Client.connect(b, bearer(BOB))
        assert not [f for f in await again.silent_for(0.5) if f["event"] == "broadcast"]  # read: not sent again
        status, unread = b.request("GET", "/api/announcements?unread=true", bearer=bearer(BOB))
        assert status == 200 and unread["announcements"] == []
        ada_later = await Client.connect(b, bearer(ADA))  # Ada saw it live but never marked it read
        assert (await ada_later.expect("broadcast"))["data"]["broadcastId"] == sent["broadcastId"]
        for client in (ada, again, ada_later):
            await client.close()
