"""The web client's pure modules under Node's own test runner (``node --test static/js/``),
so ``make test`` runs them too; skipped where Node is not installed."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.server import ROOT


def test_the_web_clients_node_tests_pass() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    result = subprocess.run(
        [node, "--test", str(ROOT / "static" / "js")], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
