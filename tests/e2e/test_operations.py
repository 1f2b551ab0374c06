"""Operating a node as Prometheus and an orchestrator expect: metric names and
collectors, a scrape token that reads metrics and nothing else, and liveness and
readiness that tell a Redis blip (degraded, still serving) from a node that
cannot serve."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import People, make_trip
from tests.server import ROOT, ServerProcess, free_port

SCRAPE_TOKEN = "scrape-only-token"
GAUGES = (
    "travelsense_event_loop_lag_seconds",
    "travelsense_projection_lag_records",
    "travelsense_ws_outbound_queued_bytes",
    "travelsense_rooms",
    "travelsense_ws_connections",
)


@pytest.fixture(scope="module")
def scraped_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("scraped")
    server = ServerProcess(f"sqlite:///{directory}/events.db", env={"METRICS_TOKEN": SCRAPE_TOKEN})
    server.start(directory)
    try:
        yield server
    finally:
        server.stop()


def families(text: str) -> dict[str, str]:
    return {family.name: family.type for family in text_string_to_metric_families(text)}


def test_the_scrape_token_reads_metrics_and_nothing_else(scraped_server: ServerProcess) -> None:
    status, text = scraped_server.request("GET", "/metrics", bearer=SCRAPE_TOKEN)
    assert status == 200 and "travelsense_ws_connections" in text
    assert scraped_server.request("GET", "/metrics", bearer=SCRAPE_TOKEN + "x")[0] == 401
    assert scraped_server.request("GET", "/api/realtime/connections", bearer=SCRAPE_TOKEN)[0] == 401
    assert scraped_server.request("GET", "/api/audit/events", bearer=SCRAPE_TOKEN)[0] == 401
    assert scraped_server.request("GET", "/metrics", bearer=People().token("root", role="admin"))[0] == 200


def test_metric_names_are_prefixed_with_the_standard_collectors_and_no_created_series(
    scraped_server: ServerProcess,
) -> None:
    _, text = scraped_server.request("GET", "/metrics", bearer=SCRAPE_TOKEN)
    found = families(text)
    for name in found:
        assert name.startswith(("travelsense_", "process_", "python_")), name
    assert "_created" not in text
    for name in ("process_open_fds", "process_max_fds", "process_resident_memory_bytes", "python_gc_collections"):
        assert name in found, name
    assert found["travelsense_build_info"] == "gauge"
    assert 'travelsense_build_info{python="' in text and 'version="' in text
    for gauge in GAUGES:
        assert found.get(gauge) == "gauge", gauge


def test_the_open_file_limit_fits_the_connections(scraped_server: ServerProcess) -> None:
    _, text = scraped_server.request("GET", "/metrics", bearer=SCRAPE_TOKEN)
    samples = {
        sample.name: sample.value for family in text_string_to_metric_families(text) for sample in family.samples
    }
    assert samples["process_max_fds"] >= 10_000 + 256 or "fits" in scraped_server.read_log()


def test_livez_and_readyz_answer_when_all_is_well(scraped_server: ServerProcess) -> None:
    assert scraped_server.request("GET", "/livez") == (200, {"status": "ok"})
    assert scraped_server.request("GET", "/readyz") == (
        200,
        {"status": "ok", "checks": {"store": "ok", "writes": "ok", "bus": "ok"}},
    )


def live(server: ServerProcess) -> bool:
    try:
        return server.request("GET", "/livez")[0] == 200
    except OSError:
        return False


def test_without_redis_a_node_is_live_and_ready_but_degraded(tmp_path: Path) -> None:
    nobody = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    server = ServerProcess(f"sqlite:///{tmp_path}/events.db", args=["--redis", nobody]).start(tmp_path, wait=False)
    try:
        deadline = time.monotonic() + 30
        while not live(server):
            assert time.monotonic() < deadline and server.proc is not None and server.proc.poll() is None
            time.sleep(0.1)
        assert server.request("GET", "/livez") == (200, {"status": "ok"})
        status, body = server.request("GET", "/readyz")
        assert status == 200 and body == {
            "status": "degraded",
            "checks": {"store": "ok", "writes": "ok", "bus": "degraded"},
        }
        status, body = server.request("GET", "/healthz")  # as before: names the failing part
        assert status == 503 and body["failing"] == ["bus"]
    finally:
        server.stop()


def test_a_node_signs_a_checkpoint_at_shutdown_that_verify_checks(tmp_path: Path) -> None:
    key = "checkpoint-key-for-this-test-0123456789"
    url = f"sqlite:///{tmp_path}/events.db"
    server = ServerProcess(url, env={"CHECKPOINT_KEY": key}).start(tmp_path)
    try:
        make_trip(server, People(), "ada", "bob")
    finally:
        assert server.stop() == 0
    verify = [sys.executable, str(ROOT / "app.py"), "verify", "--store", url, "--progress", "off"]
    done = subprocess.run([*verify, "--key", key], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "intact" in done.stdout and "1 checked" in done.stdout, done.stdout
    done = subprocess.run(
        [*verify, "--all", "--key", "another key"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and "forged" in done.stdout
