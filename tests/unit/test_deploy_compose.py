"""The shipped deployment (``deploy/docker-compose.yml``, ``deploy/nginx.conf``,
``Dockerfile``) as an operator runs it: one image built once; nodes probed for
readiness by compose and for liveness by the image; a MongoDB check that needs a
writable primary; Redis that never evicts; file limits that fit the connections;
nodes given only settings the server reads.  (No Docker daemon runs here: the
files are read, not started.)"""

from __future__ import annotations

import re
from typing import Any

import yaml

from config import ANALYST_HELP, Limits, server_parser
from service.file_limits import needed
from tests.server import ROOT

DEPLOY = ROOT / "deploy"


def compose() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]
    return services


def node_services() -> dict[str, Any]:
    return {name: service for name, service in compose().items() if name.startswith("node-")}


def test_one_image_is_built_once_and_run_by_every_service_of_ours() -> None:
    services = compose()
    built = [name for name, service in services.items() if "build" in service]
    assert built == ["migrate"]
    images = {services[name]["image"] for name in [*built, *node_services()]}
    assert len(images) == 1 and len(node_services()) >= 2
    for name in node_services():
        assert services[name]["pull_policy"] == "never"  # never a registry's image of the same name
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_nodes_are_ready_by_readyz_and_live_by_livez() -> None:
    for service in node_services().values():
        assert "/readyz" in " ".join(service["healthcheck"]["test"])
    healthcheck = re.search(r"^HEALTHCHECK .*$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert healthcheck and "/livez" in healthcheck.group(0)
    assert compose()["nginx"]["depends_on"]["node-a"]["condition"] == "service_healthy"


def test_mongodb_is_healthy_only_with_a_writable_primary() -> None:
    check = compose()["mongo"]["healthcheck"]["test"]
    text = check if isinstance(check, str) else " ".join(check)
    assert "isWritablePrimary" in text and "--replSet" in compose()["mongo"]["command"]


def test_redis_never_evicts_keys() -> None:
    command = compose()["redis"]["command"]
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"


def test_file_limits_fit_the_default_connections() -> None:
    fitting = needed(Limits().max_connections)
    for name in [*node_services(), "nginx"]:
        nofile = compose()[name]["ulimits"]["nofile"]
        assert min(nofile["soft"], nofile["hard"]) >= fitting, name
    conf = (DEPLOY / "nginx.conf").read_text()
    rlimit = int(re.search(r"worker_rlimit_nofile\s+(\d+);", conf).group(1))  # type: ignore[union-attr]
    connections = int(re.search(r"worker_connections\s+(\d+);", conf).group(1))  # type: ignore[union-attr]
    assert rlimit >= 2 * connections  # a proxied WebSocket holds two descriptors


def test_nodes_are_given_only_settings_the_server_reads() -> None:
    known = set(re.findall(r"\[\$([A-Z_]+)", server_parser({}).format_help()))
    known |= set(re.findall(r"^  ([A-Z_]+)", ANALYST_HELP, re.MULTILINE))  # the environment-only ones
    for name, service in {**node_services(), "migrate": compose()["migrate"]}.items():
        unknown = set(service["environment"]) - known
        assert not unknown, f"{name}: {sorted(unknown)}"
