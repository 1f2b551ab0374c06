"""Each handler gets, by name, only what it uses: its route arguments are exactly
the parameters of its ``initialize``, and no handler takes the ``Services`` container."""

from __future__ import annotations

import ast
import functools
import inspect
from pathlib import Path

import pytest

from app import build, make_app, socket_edge
from config import Settings
from handlers.websocket import RealtimeSocket

pytestmark = pytest.mark.integration
HANDLERS = Path(__file__).resolve().parents[2] / "handlers"


async def test_every_route_passes_exactly_the_arguments_its_handler_takes(tmp_path: Path) -> None:
    services = await build(Settings(store_url=f"sqlite:///{tmp_path}/events.db", jwt_secret="s" * 32))
    try:
        application = make_app(services, functools.partial(RealtimeSocket, socket_edge(services)))
        rules = application.wildcard_router.rules
        assert len(rules) > 20
        for rule in rules:
            handler, kwargs = rule.target, rule.target_kwargs
            parameters = dict(inspect.signature(handler.initialize).parameters)
            parameters.pop("self", None)
            required = {name for name, p in parameters.items() if p.default is inspect.Parameter.empty}
            assert required <= set(kwargs) <= set(parameters), (rule.matcher, handler.__name__)
            assert "services" not in kwargs
    finally:
        await services.bus.close()
        await services.store.close()


def test_no_handler_imports_the_services_container() -> None:
    for path in HANDLERS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module == "service.container" and any(a.name == "Services" for a in node.names)), path


def test_each_initialize_parameter_is_kept_for_use() -> None:
    """A parameter ``initialize`` takes is stored on the handler (``self.NAME = NAME``)
    or passed on: none is taken and dropped."""
    for path in HANDLERS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name == "initialize":
                names = [a.arg for a in node.args.args[1:]]
                used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
                assert set(names) <= used, (path.name, set(names) - used)
