"""A search for the costliest frame: hypothesis steers towards documents that make
the validation path (``sanitize`` then the schema checks) do the most work, and
the work must stay within a constant per value the bounds let through.

Work is counted as Python function calls (``sys.setprofile``): deterministic,
unlike a timing, and it grows with anything quadratic (Cerberus's error sorting
took ~40 calls per unknown key *per unknown key*).  CPU time per frame on a
server is measured in ``bench/hostile.py``.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st

from domain import schemas
from domain.errors import CommandRefused
from domain.sanitize import DEFAULT_BOUNDS, sanitize
from domain.schemas import CLIENT_EVENTS, REST_BODIES, UPDATE_TYPES

FRAME_LIMIT = 64 * 1024
CALLS_PER_VALUE = 40  # generous: a value costs ~10 calls today
FIXED_CALLS = 500


def calls_made(work: Callable[[], object]) -> int:
    count = 0

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        work()
    except CommandRefused:
        pass
    finally:
        sys.setprofile(None)
    return count


def values_in(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(values_in(v) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(values_in(v) for v in value)
    return 1


small_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz$.", min_size=1, max_size=4)
leaves = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=3), st.just(""))


@st.composite
def costly_documents(draw: st.DrawFn) -> Any:
    """Wide objects, long lists, many small keys at every depth, and the schemas' own keys."""
    width = draw(st.integers(0, 3_000))
    depth = draw(st.integers(1, 8))
    shape = draw(st.sampled_from(["wide", "list", "every_depth", "schema_keys"]))
    known = sorted({k for s in (*CLIENT_EVENTS.values(), *REST_BODIES.values()) for k in s})
    if shape == "wide":
        return {f"{draw(small_keys)}{i}": draw(leaves) for i in range(width)}
    if shape == "list":
        return {"tripId": "a" * 24, "days": [{"date": "x", "colour": i} for i in range(width)]}
    if shape == "schema_keys":
        return {key: [{"title": ""}] * (width // 10) for key in known}
    level: Any = draw(leaves)
    for _ in range(depth):
        level = {**{f"k{i}": 0 for i in range(width // depth)}, "inner": [level]}
    return level


def validate_everything(document: dict[str, Any]) -> None:
    clean = sanitize(document)
    checks: list[Callable[[], object]] = [
        *(lambda e=event: schemas.check_event(e, clean) for event in CLIENT_EVENTS),
        *(lambda u=update: schemas.check_update(u, clean) for update in UPDATE_TYPES),
        *(lambda b=body: schemas.check_body(b, clean) for body in REST_BODIES),
    ]
    for check in checks:
        with contextlib.suppress(CommandRefused):
            check()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(costly_documents())
def test_no_frame_costs_more_than_a_constant_per_value_the_bounds_let_through(document: Any) -> None:
    if len(json.dumps(document)) > FRAME_LIMIT:
        return  # refused by size before it is parsed
    let_through = min(values_in(document), DEFAULT_BOUNDS.max_document_nodes)
    calls = calls_made(lambda: validate_everything(document))
    target(calls / max(let_through, 1), label="calls per value")
    target(float(calls), label="calls")
    checks = len(CLIENT_EVENTS) + len(UPDATE_TYPES) + len(REST_BODIES) + 1
    assert calls <= checks * (CALLS_PER_VALUE * let_through + FIXED_CALLS), (calls, let_through)
