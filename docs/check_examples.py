#!/usr/bin/env python3
"""Check the protocol documents in docs/ against themselves.

    python docs/check_examples.py

Needs only PyYAML and jsonschema. Exits 0 when every check passes and 1
otherwise, printing one line per failure.

AsyncAPI (docs/asyncapi.yaml):
  * it parses, is AsyncAPI 3.0.x, and every operation/channel $ref resolves;
  * every message schema is a valid JSON Schema (Draft 2020-12);
  * every client->server and server->client event of the contract is there,
    in the right direction (action `receive` = client sends, `send` = server
    sends), with `event` fixed by a `const`;
  * every message has at least one example, and every example payload
    validates against its message's payload schema (with $refs into
    components resolved) and names the message's event;
  * `trip_update` has one example per updateType;
  * a set of frames that break a contract rule are rejected by the schemas
    (so the schemas are not vacuous).

OpenAPI (docs/openapi.yaml):
  * it parses and is OpenAPI 3.1.x, every contract endpoint is there;
  * request-body, response and parameter examples (`example` and
    `examples.*.value`) validate against their schemas, and so do
    parameter defaults and schema-level `examples`;
  * JSON request bodies are closed (`additionalProperties: false`);
  * operations that need a token list 401; `/healthz`, `/livez`, `/readyz`,
    `/openapi.json` and `/asyncapi.json` have `security: []`;
  * a set of invalid request bodies are rejected by the schemas.

Schemas are validated as Draft 2020-12. Refs of the form `#/...` are made
absolute against a per-document base URI so that any sub-schema can be
validated with the whole document as its reference store.
"""

from __future__ import annotations

import copy
import os
import sys

import jsonschema
import yaml
from jsonschema import Draft202012Validator, FormatChecker

HERE = os.path.dirname(os.path.abspath(__file__))
ASYNCAPI_PATH = os.path.join(HERE, "asyncapi.yaml")
OPENAPI_PATH = os.path.join(HERE, "openapi.yaml")

CLIENT_EVENTS = {
    "join_trip_room", "leave_trip_room", "trip_update", "chat_message",
    "typing", "presence_update", "refresh_token", "undo", "redo",
    "presence_visibility",
    "edit_message", "delete_message", "add_reaction", "remove_reaction",
    "mark_chat_read",
}
SERVER_EVENTS = {
    "connected", "trip_room_joined", "trip_room_left", "user_joined",
    "user_left", "presence_summary", "trip_updated", "chat_message", "user_typing", "user_viewing",
    "user_presence_updated", "token_refreshed", "token_expiring",
    "chat_message_edited", "chat_message_deleted", "chat_reactions", "chat_read",
    "notification", "broadcast", "error",
    "presence_visibility_set",
}
UPDATE_TYPES = [
    "day_added", "day_removed", "activity_added", "activity_updated",
    "activity_removed", "constraint_added", "constraint_removed",
    "day_updated", "activity_moved", "constraint_updated",
]
REST_OPERATIONS = [
    ("post", "/api/trips"),
    ("get", "/api/trips/{tripId}"),
    ("post", "/api/trips/{tripId}/collaborators"),
    ("delete", "/api/trips/{tripId}/collaborators/{userId}"),
    ("get", "/api/trips/{tripId}/messages"),
    ("get", "/api/trips/{tripId}/events"),
    ("get", "/api/trips/{tripId}/history"),
    ("post", "/api/trips/{tripId}/restore"),
    ("get", "/api/notifications"),
    ("post", "/api/notifications/{notificationId}/read"),
    ("get", "/api/realtime/connections"),
    ("post", "/api/realtime/broadcast"),
    ("post", "/api/realtime/disconnect/{userId}"),
    ("post", "/api/realtime/notify"),
    ("get", "/api/audit/events"),
    ("get", "/metrics"),
    ("get", "/healthz"),
    ("get", "/livez"),
    ("get", "/readyz"),
    ("get", "/openapi.json"),
    ("get", "/asyncapi.json"),
]
PUBLIC_PATHS = {"/healthz", "/livez", "/readyz", "/openapi.json", "/asyncapi.json", "/api/dev/sign-in"}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}

OID = "6650c3e2a41f5b7d9e0c1a2b"
OID2 = "6650c40fa41f5b7d9e0c1a30"
OID3 = "6650c455a41f5b7d9e0c1a3c"


class Checker:
    def __init__(self) -> None:
        self.passed = 0
        self.failures: list[str] = []

    def ok(self, cond: bool, what: str) -> bool:
        if cond:
            self.passed += 1
        else:
            self.failures.append(what)
        return cond


# --------------------------------------------------------------------------- refs

def absolutize(node, base: str):
    """Deep copy of node with every local `$ref: '#/...'` made `base#/...`."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#"):
                out[k] = base + v
            else:
                out[k] = absolutize(v, base)
        return out
    if isinstance(node, list):
        return [absolutize(v, base) for v in node]
    return node


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def resolve_pointer(doc, ref: str):
    if not ref.startswith("#"):
        raise KeyError(f"non-local $ref {ref!r}")
    node = doc
    for raw in ref[1:].lstrip("/").split("/") if ref != "#" else []:
        tok = unescape(raw)
        if isinstance(node, list):
            node = node[int(tok)]
        else:
            node = node[tok]
    return node


def deref(doc, node, depth: int = 0):
    """Follow `$ref` chains of a non-schema object (message, parameter...)."""
    while isinstance(node, dict) and "$ref" in node and depth < 20:
        node = resolve_pointer(doc, node["$ref"])
        depth += 1
    return node


class SchemaContext:
    """Validates instances against sub-schemas of one document."""

    def __init__(self, doc, base: str) -> None:
        self.base = base
        self.doc = absolutize(doc, base)
        self._legacy = None
        try:
            from referencing import Registry, Resource
            from referencing.jsonschema import DRAFT202012

            resource = Resource.from_contents(self.doc, default_specification=DRAFT202012)
            self._registry = Registry().with_resource(base, resource)
        except ImportError:  # jsonschema < 4.18
            self._registry = None

    def validator(self, schema):
        schema = absolutize(schema, self.base)
        if self._registry is not None:
            return Draft202012Validator(schema, registry=self._registry, format_checker=FormatChecker())
        resolver = jsonschema.RefResolver(base_uri="", referrer=schema, store={self.base: self.doc})
        return Draft202012Validator(schema, resolver=resolver, format_checker=FormatChecker())

    def errors(self, schema, instance) -> list[str]:
        out = []
        for err in sorted(self.validator(schema).iter_errors(instance), key=lambda e: list(e.path)):
            path = "/".join(str(p) for p in err.absolute_path) or "(root)"
            out.append(f"{path}: {err.message[:300]}")
        return out


def subschemas(schema):
    """Yield (schema) for schema and every nested sub-schema (no $ref following)."""
    if not isinstance(schema, dict):
        return
    yield schema
    for key in ("properties", "patternProperties", "$defs", "definitions"):
        for sub in (schema.get(key) or {}).values():
            yield from subschemas(sub)
    for key in ("items", "additionalProperties", "propertyNames", "not", "if", "then",
                "else", "contains", "unevaluatedProperties", "unevaluatedItems"):
        if isinstance(schema.get(key), dict):
            yield from subschemas(schema[key])
    for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
        for sub in schema.get(key) or []:
            yield from subschemas(sub)


def check_schema_examples(c: Checker, ctx: SchemaContext, schema, where: str) -> None:
    for i, sub in enumerate(subschemas(schema)):
        for j, ex in enumerate(sub.get("examples") or []) if isinstance(sub.get("examples"), list) else []:
            errs = ctx.errors(sub, ex)
            c.ok(not errs, f"{where}: schema example #{j} of sub-schema {i} invalid: {errs}")


def check_metaschema(c: Checker, schema, where: str) -> None:
    try:
        Draft202012Validator.check_schema(schema)
        c.ok(True, where)
    except jsonschema.exceptions.SchemaError as exc:
        c.ok(False, f"{where}: not a valid JSON Schema: {exc.message}")


def expect_invalid(c: Checker, ctx: SchemaContext, schema, instance, what: str) -> None:
    c.ok(bool(ctx.errors(schema, instance)), f"schema accepts an invalid instance: {what}")


def expect_valid(c: Checker, ctx: SchemaContext, schema, instance, what: str) -> None:
    errs = ctx.errors(schema, instance)
    c.ok(not errs, f"schema rejects a valid instance: {what}: {errs}")


# --------------------------------------------------------------------------- AsyncAPI

def check_asyncapi(c: Checker) -> None:
    with open(ASYNCAPI_PATH, encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    if not c.ok(isinstance(doc, dict), "asyncapi.yaml: not a YAML mapping"):
        return
    c.ok(str(doc.get("asyncapi", "")).startswith("3.0."), "asyncapi.yaml: `asyncapi` is not 3.0.x")
    for key in ("info", "channels", "operations", "components"):
        c.ok(key in doc, f"asyncapi.yaml: missing top-level `{key}`")
    ctx = SchemaContext(doc, "urn:travelsense:asyncapi")

    channels = doc.get("channels") or {}
    ws = next((ch for ch in channels.values() if ch.get("address") == "/ws"), None)
    if not c.ok(ws is not None, "asyncapi.yaml: no channel with address /ws"):
        return
    c.ok(len(channels) == 1, "asyncapi.yaml: expected exactly one channel")

    for name, schema in (doc.get("components", {}).get("schemas") or {}).items():
        check_metaschema(c, schema, f"asyncapi components.schemas.{name}")
        check_schema_examples(c, ctx, schema, f"asyncapi components.schemas.{name}")

    # channel messages, each resolved
    chan_msgs = {}
    for key, ref in (ws.get("messages") or {}).items():
        try:
            chan_msgs[key] = deref(doc, ref)
        except (KeyError, IndexError, ValueError) as exc:
            c.ok(False, f"asyncapi channel message {key}: unresolvable $ref ({exc})")

    # operations -> direction of each message
    direction: dict[str, set[str]] = {}
    for op_name, op in (doc.get("operations") or {}).items():
        action = op.get("action")
        c.ok(action in ("send", "receive"), f"asyncapi operation {op_name}: action must be send/receive")
        try:
            c.ok(deref(doc, op.get("channel")) is ws, f"asyncapi operation {op_name}: channel is not /ws")
        except (KeyError, IndexError, ValueError, TypeError):
            c.ok(False, f"asyncapi operation {op_name}: unresolvable channel")
        for ref in op.get("messages") or []:
            key = ref.get("$ref", "").rsplit("/", 1)[-1]
            if c.ok(key in chan_msgs, f"asyncapi operation {op_name}: message {ref} not in the channel"):
                direction.setdefault(key, set()).add(action)
        reply = op.get("reply")
        if reply:
            for ref in reply.get("messages") or []:
                key = ref.get("$ref", "").rsplit("/", 1)[-1]
                c.ok(key in chan_msgs, f"asyncapi operation {op_name}: reply message {ref} not in the channel")

    seen_client, seen_server = set(), set()
    trip_update_types = set()
    for key, msg in chan_msgs.items():
        where = f"asyncapi message {key}"
        c.ok(key in direction, f"{where}: used by no operation")
        payload = msg.get("payload")
        if not c.ok(isinstance(payload, dict), f"{where}: no payload schema"):
            continue
        check_metaschema(c, payload, where)
        props = payload.get("properties") or {}
        event = (props.get("event") or {}).get("const")
        if not c.ok(isinstance(event, str), f"{where}: payload.properties.event has no const"):
            continue
        c.ok(msg.get("name") == event, f"{where}: name {msg.get('name')!r} != event const {event!r}")
        c.ok(set(payload.get("required") or []) >= {"event", "data"}, f"{where}: event and data must be required")
        c.ok("data" in props, f"{where}: payload has no data property")
        for action in direction.get(key, ()):
            (seen_client if action == "receive" else seen_server).add(event)

        examples = msg.get("examples") or []
        c.ok(len(examples) >= 1, f"{where}: has no example")
        for i, ex in enumerate(examples):
            label = f"{where} example {ex.get('name', i)!r}"
            if not c.ok("payload" in ex, f"{label}: no payload"):
                continue
            errs = ctx.errors(payload, ex["payload"])
            c.ok(not errs, f"{label}: invalid: {errs}")
            c.ok(isinstance(ex["payload"], dict) and ex["payload"].get("event") == event,
                 f"{label}: event is not {event!r}")
            if event == "trip_update" and isinstance(ex["payload"], dict):
                trip_update_types.add((ex["payload"].get("data") or {}).get("updateType"))

    c.ok(seen_client == CLIENT_EVENTS,
         f"asyncapi: client->server events differ: missing {sorted(CLIENT_EVENTS - seen_client)}, extra {sorted(seen_client - CLIENT_EVENTS)}")
    c.ok(seen_server == SERVER_EVENTS,
         f"asyncapi: server->client events differ: missing {sorted(SERVER_EVENTS - seen_server)}, extra {sorted(seen_server - SERVER_EVENTS)}")
    for ut in UPDATE_TYPES:
        c.ok(ut in trip_update_types, f"asyncapi: trip_update has no example for updateType {ut}")

    # Negative cases: frames that break a contract rule must be rejected.
    def payload_of(event: str, direction_action: str):
        for key, msg in chan_msgs.items():
            p = msg.get("payload") or {}
            if (p.get("properties") or {}).get("event", {}).get("const") == event and direction_action in direction.get(key, ()):
                return p
        return None

    def tu(update_type, data, **extra):
        return {"event": "trip_update", "data": {"tripId": OID, "updateType": update_type, "data": data, **extra}}

    client_bad = [
        ("join_trip_room", {"event": "join_trip_room", "data": {"tripId": "123"}}, "tripId not an ObjectId"),
        ("join_trip_room", {"event": "join_trip_room", "data": {"tripId": OID.upper()}}, "upper-case ObjectId"),
        ("join_trip_room", {"event": "join_trip_room", "data": {}}, "tripId missing"),
        ("join_trip_room", {"event": "join_trip_room", "data": {"tripId": OID, "lastSeq": -1}}, "negative lastSeq"),
        ("join_trip_room", {"event": "join_trip_room", "data": {"tripId": OID}, "ref": ""}, "empty ref"),
        ("join_trip_room", {"event": "join_trip_room", "data": {"tripId": OID}, "ref": "x" * 65}, "65-char ref"),
        ("join_trip_room", {"event": "join_trip_room", "data": {"tripId": OID}, "ref": 7}, "non-string ref"),
        ("join_trip_room", {"event": "leave_trip_room", "data": {"tripId": OID}}, "wrong event name"),
        ("chat_message", {"event": "chat_message", "data": {"tripId": OID, "message": ""}}, "empty message"),
        ("chat_message", {"event": "chat_message", "data": {"tripId": OID, "message": "   "}}, "blank message"),
        ("chat_message", {"event": "chat_message", "data": {"tripId": OID, "message": "x" * 1001}}, "1001-char message"),
        ("chat_message", {"event": "chat_message", "data": {"tripId": OID, "message": "hi\u0007"}}, "control char in message"),
        ("chat_message", {"event": "chat_message", "data": {"tripId": OID, "message": "hi", "type": "shout"}}, "bad chat type"),
        ("typing", {"event": "typing", "data": {"tripId": OID, "isTyping": "true"}}, "isTyping as string"),
        ("presence_update", {"event": "presence_update", "data": {"tripId": OID, "status": "invisible"}}, "bad status"),
        ("refresh_token", {"event": "refresh_token", "data": {"token": ""}}, "empty token"),
        ("trip_update", tu("day_added", {"day": {"date": "14/07/2025"}}), "bad date"),
        ("trip_update", tu("day_added", {"day": {"date": "2025-07-14", "title": "x" * 201}}), "201-char day title"),
        ("trip_update", tu("day_removed", {}), "day_removed without dayId"),
        ("trip_update", tu("activity_added", {"dayId": OID2, "activity": {"title": ""}}), "empty activity title"),
        ("trip_update", tu("activity_added", {"dayId": OID2, "activity": {"title": "a", "startTime": "24:00"}}), "startTime 24:00"),
        ("trip_update", tu("activity_added", {"dayId": OID2, "activity": {"title": "a", "endTime": "9:30"}}), "endTime 9:30"),
        ("trip_update", tu("activity_added", {"dayId": OID2, "activity": {"title": "a", "cost": -1}}), "negative cost"),
        ("trip_update", tu("activity_added", {"dayId": OID2, "activity": {"title": "a", "notes": "x" * 2001}}), "2001-char notes"),
        ("trip_update", tu("activity_updated", {"dayId": OID2, "activityId": OID3, "changes": {}}), "empty changes"),
        ("trip_update", tu("activity_updated", {"dayId": OID2, "activityId": OID3, "changes": {"colour": "red"}}), "unknown change field"),
        ("trip_update", tu("activity_removed", {"dayId": OID2}), "activity_removed without activityId"),
        ("trip_update", tu("constraint_added", {"constraint": {"type": "", "value": 1}}), "empty constraint type"),
        ("trip_update", tu("constraint_added", {"constraint": {"type": "budget"}}), "constraint without value"),
        ("trip_update", tu("constraint_added", {"constraint": {"type": "budget", "value": {"$where": 1}}}), "$-key in value"),
        ("trip_update", tu("constraint_added", {"constraint": {"type": "budget", "value": {"a.b": 1}}}), "dotted key in value"),
        ("trip_update", tu("constraint_removed", {"constraintId": "nope"}), "bad constraintId"),
        ("trip_update", tu("snapshot", {}), "client snapshot"),
        ("trip_update", tu("day_removed", {"dayId": OID2}, baseVersion=-1), "negative baseVersion"),
        ("trip_update", tu("activity_added", {"dayId": OID2, "activity": {"title": "  "}}), "blank activity title"),
        ("refresh_token", {"event": "refresh_token", "data": {"token": "t" * 8193}}, "8193-char token"),
    ]
    for event, frame, what in client_bad:
        schema = payload_of(event, "receive")
        if c.ok(schema is not None, f"asyncapi: no client message {event}"):
            expect_invalid(c, ctx, schema, frame, f"{event}: {what}")
    client_good = [
        ("chat_message", {"event": "chat_message", "data": {"tripId": OID, "message": "line one\n\tline two"}}, "newline and tab"),
        ("chat_message", {"event": "chat_message", "data": {"tripId": OID, "message": "x" * 1000}, "ref": "r" * 64}, "1000 chars, 64-char ref"),
        ("trip_update", tu("constraint_added", {"constraint": {"type": "pace", "value": None}}), "null constraint value"),
        ("trip_update", tu("constraint_added", {"constraint": {"type": "avoid", "value": ["museums", {"k": [1, True]}]}}), "nested value"),
        ("trip_update", tu("activity_added", {"dayId": OID2, "activity": {"title": "a", "startTime": "00:00", "endTime": "23:59", "cost": 0}}), "time bounds"),
        ("join_trip_room", {"event": "join_trip_room", "data": {"tripId": OID, "lastSeq": 0}}, "lastSeq 0"),
    ]
    for event, frame, what in client_good:
        schema = payload_of(event, "receive")
        if schema is not None:
            expect_valid(c, ctx, schema, frame, f"{event}: {what}")

    server_bad = [
        ("connected", {"event": "connected", "data": {"userId": OID, "sessionId": "s", "timestamp": "2025-07-10T08:15:02+02:00"}}, "non-UTC timestamp"),
        ("trip_updated", {"event": "trip_updated", "data": {"tripId": OID, "updateType": "day_added", "data": {"day": {"date": "2025-07-14"}},
                                                           "version": 3, "seq": 3, "userId": OID, "timestamp": "2025-07-10T08:15:02Z"}}, "broadcast day without dayId"),
        ("trip_updated", {"event": "trip_updated", "data": {"tripId": OID, "updateType": "day_removed", "data": {"dayId": OID2},
                                                           "version": 3, "userId": OID, "timestamp": "2025-07-10T08:15:02Z"}}, "stream event without seq"),
        ("error", {"event": "error", "data": {"code": "OOPS", "message": "m", "event": None}}, "unknown error code"),
        ("error", {"event": "error", "data": {"code": "CONFLICT", "message": "m", "event": "trip_update"}}, "CONFLICT without details"),
        ("error", {"event": "error", "data": {"code": "RATE_LIMITED", "message": "m", "event": "typing", "details": {}}}, "RATE_LIMITED without retryAfterMs"),
        ("broadcast", {"event": "broadcast", "data": {"broadcastId": OID, "message": "m", "type": "urgent", "timestamp": "2025-07-10T08:15:02Z"}}, "bad broadcast type"),
    ]
    for event, frame, what in server_bad:
        schema = payload_of(event, "send")
        if c.ok(schema is not None, f"asyncapi: no server message {event}"):
            expect_invalid(c, ctx, schema, frame, f"{event}: {what}")


# --------------------------------------------------------------------------- OpenAPI

def media_examples(media: dict):
    if "example" in media:
        yield "example", media["example"]
    for name, ex in (media.get("examples") or {}).items():
        if isinstance(ex, dict) and "value" in ex:
            yield name, ex["value"]


def check_openapi(c: Checker) -> None:
    with open(OPENAPI_PATH, encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    if not c.ok(isinstance(doc, dict), "openapi.yaml: not a YAML mapping"):
        return
    c.ok(str(doc.get("openapi", "")).startswith("3.1."), "openapi.yaml: `openapi` is not 3.1.x")
    ctx = SchemaContext(doc, "urn:travelsense:openapi")
    paths = doc.get("paths") or {}
    global_security = doc.get("security")
    c.ok(bool(global_security) and any("bearerAuth" in s for s in global_security),
         "openapi.yaml: global security must require bearerAuth")

    for name, schema in ((doc.get("components") or {}).get("schemas") or {}).items():
        check_metaschema(c, schema, f"openapi components.schemas.{name}")
        check_schema_examples(c, ctx, schema, f"openapi components.schemas.{name}")

    for method, path in REST_OPERATIONS:
        c.ok(method in (paths.get(path) or {}), f"openapi.yaml: missing {method.upper()} {path}")

    for path, item in paths.items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            where = f"openapi {method.upper()} {path}"
            security = op.get("security", global_security)
            public = security == [] or security is None
            if path in PUBLIC_PATHS:
                c.ok(op.get("security") == [], f"{where}: must have security: []")
            else:
                c.ok(not public, f"{where}: must require the bearer token")
                c.ok("401" in (op.get("responses") or {}), f"{where}: lists no 401")

            params = [deref(doc, p) for p in (item.get("parameters") or []) + (op.get("parameters") or [])]
            for p in params:
                schema = p.get("schema") or {}
                pw = f"{where} parameter {p.get('name')}"
                if p.get("in") == "path":
                    c.ok(p.get("required") is True, f"{pw}: path parameters must be required")
                    c.ok("{" + str(p.get("name")) + "}" in path, f"{pw}: not in the path template")
                if "default" in schema:
                    errs = ctx.errors(schema, schema["default"])
                    c.ok(not errs, f"{pw}: default invalid: {errs}")
                for exname, value in media_examples(p):
                    errs = ctx.errors(schema, value)
                    c.ok(not errs, f"{pw} example {exname}: invalid: {errs}")

            body = deref(doc, op.get("requestBody")) if op.get("requestBody") else None
            if body:
                for mtype, media in (body.get("content") or {}).items():
                    schema = media.get("schema")
                    if not c.ok(isinstance(schema, dict), f"{where}: request body {mtype} has no schema"):
                        continue
                    resolved = deref(doc, schema)
                    if mtype == "application/json":
                        c.ok(resolved.get("additionalProperties") is False,
                             f"{where}: request body schema must have additionalProperties: false")
                    exs = list(media_examples(media))
                    c.ok(len(exs) >= 1, f"{where}: request body {mtype} has no example")
                    for exname, value in exs:
                        errs = ctx.errors(schema, value)
                        c.ok(not errs, f"{where} request example {exname}: invalid: {errs}")

            responses = op.get("responses") or {}
            c.ok(any(code.startswith("2") for code in responses), f"{where}: no 2xx response")
            for code, resp in responses.items():
                resp = deref(doc, resp)
                content = resp.get("content") or {}
                c.ok(bool(content), f"{where} {code}: response has no content/schema")
                for mtype, media in content.items():
                    schema = media.get("schema")
                    if not c.ok(isinstance(schema, dict), f"{where} {code} {mtype}: no schema"):
                        continue
                    for exname, value in media_examples(media):
                        errs = ctx.errors(schema, value)
                        c.ok(not errs, f"{where} {code} example {exname}: invalid: {errs}")

    # Negative cases on request bodies.
    def body_schema(method, path):
        op = (paths.get(path) or {}).get(method) or {}
        body = deref(doc, op.get("requestBody") or {})
        return ((body.get("content") or {}).get("application/json") or {}).get("schema")

    bad_bodies = [
        ("post", "/api/trips", {}, "no title"),
        ("post", "/api/trips", {"title": ""}, "empty title"),
        ("post", "/api/trips", {"title": "x" * 201}, "201-char title"),
        ("post", "/api/trips", {"title": "   "}, "blank title"),
        ("post", "/api/trips", {"title": "t", "collaborators": [OID] * 101}, "101 collaborators"),
        ("post", "/api/trips", {"title": "t", "colour": "red"}, "unknown field"),
        ("post", "/api/trips", {"title": "t", "collaborators": ["abc"]}, "bad collaborator id"),
        ("post", "/api/trips", {"title": "t", "days": [{"date": "2025-7-14"}]}, "bad day date"),
        ("post", "/api/trips/{tripId}/collaborators", {"userId": "zz"}, "bad userId"),
        ("post", "/api/trips/{tripId}/collaborators", {"userId": OID, "role": "x"}, "unknown field"),
        ("post", "/api/realtime/broadcast", {"message": ""}, "empty message"),
        ("post", "/api/realtime/broadcast", {"message": " \n "}, "blank message"),
        ("post", "/api/realtime/broadcast", {"message": "x" * 1001}, "1001-char message"),
        ("post", "/api/realtime/broadcast", {"message": "m", "type": "urgent"}, "bad type"),
        ("post", "/api/realtime/notify", {"userId": OID, "kind": "", "title": "t"}, "empty kind"),
        ("post", "/api/realtime/notify", {"userId": OID, "kind": "k" * 51, "title": "t"}, "51-char kind"),
        ("post", "/api/realtime/notify", {"userId": OID, "kind": "k", "title": "t", "body": "b" * 2001}, "2001-char body"),
        ("post", "/api/realtime/notify", {"userId": OID, "kind": "k", "title": "t", "data": []}, "data not an object"),
        ("post", "/api/realtime/notify", {"userId": OID, "kind": "k"}, "no title"),
    ]
    for method, path, instance, what in bad_bodies:
        schema = body_schema(method, path)
        if c.ok(schema is not None, f"openapi: no JSON request body for {method.upper()} {path}"):
            expect_invalid(c, ctx, schema, instance, f"{method.upper()} {path}: {what}")


def main() -> int:
    c = Checker()
    for name, fn in (("asyncapi", check_asyncapi), ("openapi", check_openapi)):
        try:
            fn(c)
        except Exception as exc:  # a crash is a failure, reported as such
            c.failures.append(f"{name}: check crashed: {type(exc).__name__}: {exc}")
    for f in c.failures:
        print("FAIL", f)
    if c.failures:
        print(f"check_examples: FAILED, {len(c.failures)} of {c.passed + len(c.failures)} checks")
        return 1
    print(f"check_examples: OK, all {c.passed} checks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
