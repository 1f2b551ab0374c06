"""Starting and stopping the service (README)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.forged_tokens import rsa_pair
from tests.server import ROOT, Client, ServerProcess, free_port, object_id, token


def test_without_a_key_the_server_refuses_to_start_naming_jwt_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWT_")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--port", str(free_port()), "--store", f"sqlite:///{tmp_path}/e.db"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "JWT_SECRET" in lines[0]


def test_several_nodes_with_a_public_key_and_no_shared_secret_refuse_to_start_naming_resume_secret(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "RESUME_"))}
    env["JWT_PUBLIC_KEY"] = rsa_pair()[1]
    args = ["--port", str(free_port()), "--store", f"sqlite:///{tmp_path}/e.db", "--redis", "redis://127.0.0.1:6379/0"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), *args], env=env, capture_output=True, text=True, timeout=30, cwd=tmp_path
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "RESUME_SECRET" in lines[0], done.stderr


def test_dev_mode_seeds_a_demo_trip_and_prints_links_that_work(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWT_")}
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--dev", "--port", str(port), "--store", f"sqlite:///{tmp_path}/e.db"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        links: list[str] = []
        deadline = time.monotonic() + 20
        while len(links) < 3 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            links += re.findall(r"(http://\S+\?token=(\S+)&trip=([0-9a-f]{24}))", line)  # type: ignore[arg-type]
        assert len(links) == 3
        server = ServerProcess("unused")
        server.port = port
        _, demo_token, trip_id = links[0]
        status, trip = server.request("GET", f"/api/trips/{trip_id}", bearer=demo_token)
        assert status == 200 and trip["days"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)


async def test_sigterm_closes_clients_with_1001_and_exits_0(server: ServerProcess) -> None:
    client = await Client.connect(server, token(object_id(0xABC)))
    assert server.stop(signal.SIGTERM) == 0
    await client.silent_for(1)
    assert client.ws.close_code == 1001


def test_healthz_answers_ok_when_the_store_is_reachable(server: ServerProcess) -> None:
    assert server.request("GET", "/healthz") == (200, {"status": "ok"})


def test_port_zero_listens_on_a_free_port_and_names_it(tmp_path: Path) -> None:
    env = {**os.environ, "JWT_SECRET": "s" * 32}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--port", "0", "--store", f"sqlite:///{tmp_path}/e.db"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.match(r"listening on http://127\.0\.0\.1:(\d+) ", line)
        assert found and found.group(1) != "0", line
        server = ServerProcess("unused")
        server.port = int(found.group(1))
        status, body = server.request("GET", "/livez")
        assert status == 200 and body == {"status": "ok"}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
