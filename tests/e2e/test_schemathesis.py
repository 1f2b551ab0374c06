"""Schemathesis against a real server and the OpenAPI document it serves.

Run once with an admin token and once with a user token: every phase
(examples, coverage, fuzzing, stateful), bounded by ``--max-examples``, must
find no 5xx and no response that breaks the document (status codes, content
types, schemas, headers, the ``Allow`` of a 405, and 401 without the token).
``SCHEMATHESIS_SEED`` replays a run; ``SCHEMATHESIS_MAX_EXAMPLES`` widens it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server import ServerProcess, object_id, token

pytest.importorskip("schemathesis")

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "unsupported_method",
        "ignored_auth",
    ]
)
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25")
SEED = os.environ.get("SCHEMATHESIS_SEED", "20251125")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("schemathesis")
    unlimited = ["--rest-burst", "1000000", "--rest-per-second", "1000000", "--rest-ip-burst", "1000000"]
    proc = ServerProcess(f"sqlite:///{directory}/events.db", args=unlimited).start(directory)
    try:
        yield proc
    finally:
        proc.stop()


def schemathesis_command() -> list[str]:
    found = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")
    return [found] if found else [sys.executable, "-m", "schemathesis.cli"]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("role", ["admin", "user"])
def test_the_api_honours_its_openapi_document(api: ServerProcess, role: str, tmp_path: Path) -> None:
    bearer = token(object_id(0x5C4E + (role == "admin")), role=role, name="Schemathesis")
    command = [
        *schemathesis_command(),
        "run",
        f"{api.base}/openapi.json",
        "--header",
        f"Authorization: Bearer {bearer}",
        "--checks",
        CHECKS,
        "--max-examples",
        MAX_EXAMPLES,
        "--seed",
        SEED,
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--request-timeout",
        "10",
        "--no-color",
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=170, check=False)
    report = result.stdout[-20000:] + result.stderr[-4000:]
    assert result.returncode == 0, report
    assert "API Operations" in result.stdout, report
    assert bearer not in result.stdout  # schemathesis filters credentials from its report
    assert api.proc is not None and api.proc.poll() is None, "the server died under schemathesis"
