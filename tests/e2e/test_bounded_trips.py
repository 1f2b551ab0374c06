"""A collaborator cannot make a trip unjoinable, and settings that would allow it
(or a ``--dev`` node beside real keys) refuse to start, saying why."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.e2e.conftest import People, make_trip
from tests.server import ROOT, Client, ServerProcess, free_port

TRIP_BYTES = 30_000
OUTBOUND = 2 * TRIP_BYTES + 4096  # the smallest queue config.refusals lets such a trip have


async def test_a_trip_filled_to_its_limits_is_still_joined_by_everyone(
    start: Callable[..., ServerProcess], people: People
) -> None:
    server = start("--max-trip-bytes", str(TRIP_BYTES), "--outbound-max-bytes", str(OUTBOUND), "--rate-burst", "1000")
    trip = make_trip(server, people, "ada", "bob")
    bob = await Client.connect(server, people.token("bob"))
    await bob.request("join_trip_room", {"tripId": trip["tripId"]}, "join", "trip_room_joined")
    refusal = None
    for n in range(40):
        answer = await bob.request(
            "trip_update",
            {
                "tripId": trip["tripId"],
                "updateType": "constraint_added",
                "data": {"constraint": {"type": "notes", "value": "\u20ac" * 2_000}},  # 6 KB in UTF-8
            },
            f"u{n}",
            "trip_updated",
        )
        if answer["event"] == "error":
            refusal = answer
            break
    assert refusal is not None and refusal["data"]["code"] == "VALIDATION_ERROR", refusal
    assert "trip" in refusal["data"]["details"]
    for name in ("ada", "bob"):
        client = await Client.connect(server, people.token(name))
        joined = await client.request("join_trip_room", {"tripId": trip["tripId"]}, "j", "trip_room_joined")
        assert joined["event"] == "trip_room_joined", joined
        snapshot = await client.expect("trip_updated")
        assert snapshot["data"]["updateType"] == "snapshot"
        assert len(snapshot["data"]["trip"]["constraints"]) == n
        await client.close()
    await bob.close()


def start_refused(tmp_path: Path, *flags: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JWT_")}
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "app.py"),
            "--port",
            str(free_port()),
            "--store",
            f"sqlite:///{tmp_path}/e.db",
            *flags,
        ],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )


def test_dev_refuses_to_start_beside_a_real_secret(tmp_path: Path) -> None:
    done = start_refused(tmp_path, "--dev", env={"JWT_SECRET": "s" * 40})
    assert done.returncode == 2
    assert "--dev" in done.stderr and "JWT_SECRET" in done.stderr
    assert not (tmp_path / "e.db").exists()  # nothing was seeded


def test_dev_refuses_to_listen_beyond_this_machine(tmp_path: Path) -> None:
    done = start_refused(tmp_path, "--dev", "--host", "10.20.30.40")
    assert done.returncode == 2
    assert "--dev" in done.stderr and "127.0.0.1" in done.stderr


def test_a_trip_limit_whose_snapshot_would_not_fit_the_outbound_queue_refuses_to_start(tmp_path: Path) -> None:
    done = start_refused(
        tmp_path, "--max-trip-bytes", "600000", "--outbound-max-bytes", "1048576", env={"JWT_SECRET": "s" * 40}
    )
    assert done.returncode == 2
    assert "--max-trip-bytes" in done.stderr and "--outbound-max-bytes" in done.stderr
