"""The protocol documents stay true: the server serves them, every route and
event it implements is in them and nothing else is, and their examples pass the
server's own rules (``domain.sanitize``, ``domain.schemas``)."""

from __future__ import annotations

import ast
import functools
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock
from urllib.request import urlopen

import pytest
import tornado.web
import yaml

from app import make_app, socket_edge
from config import Settings
from domain import schemas
from domain.errors import ErrorCode
from domain.sanitize import sanitize
from handlers.base import allowed_methods
from handlers.websocket import RealtimeSocket
from service.clock import SystemClock
from service.metrics import SERVER_EVENTS
from service.session import ClientSession
from tests.server import ROOT, ServerProcess

DOCS = ROOT / "docs"
# Routes that are not REST API operations: the WebSocket (AsyncAPI's), the web
# client with its static files, and the page that renders the documents.
NOT_REST = {"/ws", "/", "/docs", "/static/(.*)", r"/(favicon\.ico)", r"/(robots\.txt)"}
# The REST body rules (domain.schemas.REST_BODIES) behind each operation with a JSON body.
BODY_RULES = {
    "createTrip": "create_trip",
    "addCollaborator": "add_collaborator",
    "devSignIn": "dev_sign_in",
    "setViewing": "viewing",
    "broadcast": "broadcast",
    "notifyUser": "notify",
    "restoreTrip": "restore_trip",
    "editTripMessage": "edit_message",
    "markTripChatRead": "mark_chat_read",
    "acceptTripInvite": "accept_invite",
}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def load(name: str) -> dict[str, Any]:
    with (DOCS / name).open(encoding="utf-8") as source:
        document: dict[str, Any] = json.loads(json.dumps(yaml.safe_load(source), default=str))
    return document


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return load("openapi.yaml")


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    return load("asyncapi.yaml")


def resolve(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def messages(asyncapi: dict[str, Any], action: str) -> dict[str, dict[str, Any]]:
    """Event name -> message, for the operations with this action (receive: client to server)."""
    found: dict[str, dict[str, Any]] = {}
    for operation in asyncapi["operations"].values():
        if operation["action"] != action:
            continue
        for ref in operation["messages"]:
            message = resolve(asyncapi, ref)
            event = resolve(asyncapi, message["payload"])["properties"]["event"]["const"]
            found[event] = message
    return found


def route_table() -> dict[str, type[tornado.web.RequestHandler]]:
    services = MagicMock()
    services.settings = Settings()
    application = make_app(services, functools.partial(RealtimeSocket, socket_edge(services)))
    table = {}
    for rule in application.wildcard_router.rules:
        pattern = rule.matcher.regex.pattern  # type: ignore[attr-defined]
        table[pattern.removesuffix("$")] = rule.target
    return table


def route_of(path: str) -> str:
    """An OpenAPI path template as the Tornado route pattern that serves it."""
    return re.sub(r"\\\{[^/]+?\\\}", "([^/]+)", re.escape(path)).replace("\\-", "-").replace("\\.", ".")


# served ------------------------------------------------------------------------------------


def test_the_server_serves_both_documents_and_the_docs_page(server: ServerProcess) -> None:
    for path, name in (("/openapi.json", "openapi.yaml"), ("/asyncapi.json", "asyncapi.yaml")):
        status, served = server.request("GET", path)
        assert status == 200 and served == load(name)
    status, page = server.request("GET", "/docs")
    assert status == 200 and "<html" in page and "/asyncapi.json" in page and "/openapi.json" in page
    with urlopen(f"{server.base}/docs", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/html")
        policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy and "'sha256-" in policy


def test_the_docs_page_renders_both_documents_under_its_content_security_policy(
    server: ServerProcess, openapi: dict[str, Any], asyncapi: dict[str, Any]
) -> None:
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("Debian's Chromium is not installed (scripts/test.sh installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    problems: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on(
                "console",
                lambda message: (
                    problems.append(message.text)
                    if "Content Security Policy" in message.text or "Refused to" in message.text
                    else None
                ),
            )
            page.goto(f"{server.base}/docs")
            page.get_by_text("/api/realtime/broadcast").first.wait_for(timeout=10_000)
            text = page.inner_text("body")
        finally:
            browser.close()
    assert problems == []
    assert all(event in text for event in messages(asyncapi, "receive"))
    assert all(event in text for event in messages(asyncapi, "send"))
    assert all(path in text for path in openapi["paths"])


# REST: routes <-> OpenAPI -------------------------------------------------------------------


def test_every_route_is_documented_and_every_documented_operation_is_served(openapi: dict[str, Any]) -> None:
    routes = route_table()
    documented = {route_of(path): path for path in openapi["paths"]}
    assert set(routes) - set(documented) == NOT_REST, "routes missing from docs/openapi.yaml"
    assert set(documented) - set(routes) == set(), "documented paths the server does not serve"
    for pattern, path in documented.items():
        served = {m.lower() for m in allowed_methods(routes[pattern])}
        described = {m for m in openapi["paths"][path] if m in HTTP_METHODS}
        assert served == described, path


def test_the_websocket_endpoint_is_the_asyncapi_channel(asyncapi: dict[str, Any]) -> None:
    assert "/ws" in route_table()
    assert [channel["address"] for channel in asyncapi["channels"].values()] == ["/ws"]


# WebSocket: events <-> AsyncAPI ------------------------------------------------------------------


def test_the_client_events_the_session_handles_are_exactly_the_documented_ones(asyncapi: dict[str, Any]) -> None:
    services = MagicMock()
    services.clock = SystemClock()
    services.limits = Settings().limits
    session = ClientSession(services, MagicMock(), MagicMock())
    handled = set(session._handlers)
    assert handled == set(messages(asyncapi, "receive"))
    assert handled == set(schemas.CLIENT_EVENTS)


def server_event_names() -> set[str]:
    """Every event name the server writes: literal names at each place a frame is made."""
    positions = {"encode": 0, "to_all": 0, "to_user": 1, "room_signal": 1}
    names: set[str] = set()
    for path in sorted([*(ROOT / "service").glob("*.py"), *(ROOT / "handlers").glob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
                at = positions.get(name)
                if at is not None and len(node.args) > at:
                    arg = node.args[at]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        names.add(arg.value)
            if isinstance(node, ast.FunctionDef) and node.name == "stream_broadcast":
                for ret in ast.walk(node):
                    if isinstance(ret, ast.Return) and isinstance(ret.value, ast.IfExp | ast.Tuple):
                        for tup in ast.walk(ret.value):
                            if isinstance(tup, ast.Tuple) and isinstance(tup.elts[0], ast.Constant):
                                names.add(str(tup.elts[0].value))
    return names


def test_the_events_the_server_sends_are_exactly_the_documented_ones(asyncapi: dict[str, Any]) -> None:
    sent = server_event_names()
    assert {"chat_message", "trip_updated", "error", "broadcast", "notification"} <= sent  # the scan sees them
    assert sent == set(messages(asyncapi, "send"))
    assert sent == SERVER_EVENTS  # the metrics' label set


# examples pass the server's own rules -------------------------------------------------------------


def examples_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [example["payload"] for example in message.get("examples", [])]


def check_client_frame(frame: dict[str, Any]) -> None:
    """What ``ClientSession`` checks before a handler runs, in its order."""
    event, data = frame["event"], frame["data"]
    assert isinstance(data, dict)
    if "ref" in frame:
        assert isinstance(frame["ref"], str) and 1 <= len(frame["ref"]) <= 64
    data = sanitize(data)
    if "tripId" in schemas.CLIENT_EVENTS[event]:
        schemas.check_trip_id(data)
    payload = schemas.check_event(event, data)
    if event == "trip_update":
        schemas.check_update(payload["updateType"], payload["data"])


def test_every_client_event_example_passes_the_servers_rules(asyncapi: dict[str, Any]) -> None:
    checked = 0
    for event, message in messages(asyncapi, "receive").items():
        frames = examples_of(message)
        assert frames, f"{event} has no example"
        for frame in frames:
            assert frame["event"] == event
            check_client_frame(frame)
            checked += 1
    update_types = {f["data"]["updateType"] for f in examples_of(messages(asyncapi, "receive")["trip_update"])}
    assert update_types == set(schemas.UPDATE_TYPES)
    assert checked >= 14


def test_server_event_examples_use_the_servers_codes_and_types(asyncapi: dict[str, Any]) -> None:
    sent = messages(asyncapi, "send")
    codes = {code.value for code in ErrorCode} - {"UNAUTHORIZED", "NOT_FOUND"}  # REST only
    for frame in examples_of(sent["error"]):
        assert frame["data"]["code"] in codes
    for frame in examples_of(sent["broadcast"]):
        assert frame["data"]["type"] in schemas.BROADCAST_TYPES
    for frame in examples_of(sent["chat_message"]):
        assert frame["data"]["type"] in schemas.CHAT_TYPES


def request_examples(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS or "requestBody" not in operation:
                continue
            media = resolve(openapi, operation["requestBody"])["content"]["application/json"]
            values = [media["example"]] if "example" in media else []
            values += [example["value"] for example in media.get("examples", {}).values()]
            assert values, f"{method.upper()} {path} has no request example"
            found += [(operation["operationId"], f"{method.upper()} {path}", value) for value in values]
    return found


def test_every_rest_request_example_passes_the_servers_rules(openapi: dict[str, Any]) -> None:
    examples = request_examples(openapi)
    assert {operation for operation, _, _ in examples} == set(BODY_RULES)
    for operation, where, body in examples:
        checked = schemas.check_body(BODY_RULES[operation], sanitize(body))
        assert checked, where


def test_rest_error_examples_use_the_servers_codes(openapi: dict[str, Any]) -> None:
    codes = {code.value for code in ErrorCode} | {"METHOD_NOT_ALLOWED"}
    seen = 0
    for response in openapi["components"]["responses"].values():
        for media in response.get("content", {}).values():
            if "example" in media and "error" in media["example"]:
                assert media["example"]["error"]["code"] in codes
                seen += 1
    assert seen >= 5


# the documents' own checks ----------------------------------------------------------------------


def test_the_documents_pass_their_own_example_checks() -> None:
    pytest.importorskip("jsonschema")
    result = subprocess.run(
        [sys.executable, str(DOCS / "check_examples.py")], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_the_docs_folder_holds_what_the_server_serves() -> None:
    for name in ("openapi.yaml", "asyncapi.yaml", "index.html"):
        assert (DOCS / name).is_file(), name
    assert Path(ROOT / "docs" / "index.html").read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
