"""The layer table of CONTRIBUTING.md, enforced over the import graph: every module
of a layer imports only from the layers the table allows (the standard library and
third-party packages are not this project's layers, so they are not checked here;
which drivers may be imported is checked separately)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# layer -> the project's layers it may import (itself included)
ALLOWED: dict[str, set[str]] = {
    "domain": {"domain"},
    "eventlog": {"eventlog", "domain"},
    "projections": {"projections", "eventlog", "domain"},
    "service": {"service", "projections", "eventlog", "domain", "config"},
    "handlers": {"handlers", "service", "domain", "config"},
    "analysts": {"analysts", "projections", "eventlog", "domain", "service", "config"},
    "config": {"config"},
}
# within eventlog, only these may be imported from the layers above it (the ports, the records
# and what the log's readers share); the adapters are chosen in one place (eventlog/factory.py)
EVENTLOG_PUBLIC = {
    "ports",
    "records",
    "read_model_port",
    "session_port",
    "ticket_port",
    "people_port",
    "key_port",
    "key_cache",
    "sealing",
    "chain",
    "checkpoints",
    "upcasters",
    "factory",
}
DRIVERS = {"pymongo", "bson", "motor", "redis", "sqlite3"}
PROJECT = set(ALLOWED) | {"app", "bench", "tests", "handlers"}


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules(layer: str) -> list[Path]:
    if layer == "config":
        return [ROOT / "config.py"]
    return sorted(p for p in (ROOT / layer).rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_what_the_table_allows(layer: str) -> None:
    broken = []
    for path in modules(layer):
        for name in imports_of(path):
            top = name.split(".")[0]
            if top in PROJECT and top not in ALLOWED[layer]:
                broken.append(f"{path.relative_to(ROOT)} imports {name}")
    assert broken == []


@pytest.mark.parametrize("layer", sorted(set(ALLOWED) - {"eventlog"}))
def test_no_layer_but_the_adapters_imports_a_driver(layer: str) -> None:
    drivers = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules(layer)
        for name in imports_of(path)
        if name.split(".")[0] in DRIVERS
    ]
    assert drivers == []


@pytest.mark.parametrize("layer", ["service", "handlers", "projections", "analysts"])
def test_layers_above_the_log_reach_its_adapters_only_through_the_factory(layer: str) -> None:
    reached = []
    for path in modules(layer):
        for name in imports_of(path):
            parts = name.split(".")
            if parts[0] == "eventlog" and len(parts) > 1 and parts[1] not in EVENTLOG_PUBLIC:
                reached.append(f"{path.relative_to(ROOT)} imports {name}")
    assert reached == []


def test_no_private_name_is_imported_across_modules() -> None:
    private = []
    for layer in ALLOWED:
        for path in modules(layer):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    top = node.module.split(".")[0]
                    if top in PROJECT:
                        private += [
                            f"{path.relative_to(ROOT)}: {node.module}.{a.name}"
                            for a in node.names
                            if a.name.startswith("_")
                        ]
    assert private == []


def test_the_log_s_public_modules_reach_no_adapter_but_through_the_factory() -> None:
    """What the layers above may import (the ports, the key cache, sealing...) imports no adapter
    (a SQLite, MongoDB, Redis or memory module), else a service would bring one in unchosen."""
    reached = []
    for name in sorted(EVENTLOG_PUBLIC - {"factory"}):
        path = ROOT / "eventlog" / f"{name}.py"
        for imported in imports_of(path):
            parts = imported.split(".")
            if parts[0] == "eventlog" and len(parts) > 1 and parts[1] not in EVENTLOG_PUBLIC:
                reached.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert reached == []


def test_the_key_adapters_import_no_other_adapter() -> None:
    """Keys are made in the port (``eventlog/key_port.py``), for every adapter and the cache."""
    adapters = {"sqlite_keys", "mongo_keys", "memory_keys"}
    reached = [
        f"eventlog/{name}.py imports {imported}"
        for name in sorted(adapters)
        for imported in imports_of(ROOT / "eventlog" / f"{name}.py")
        if imported.startswith("eventlog.") and imported.split(".")[1] in adapters - {name}
    ]
    assert reached == []
