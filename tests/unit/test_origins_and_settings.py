"""Origins compared by scheme, host and port; settings that must not serve, or deserve a warning."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from config import Limits, Settings, refusals, warnings
from service.origins import origin_allowed, parse_origin

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://app.example", True),
        ("http://APP.example:80", True),
        ("https://app.example", False),  # another scheme
        ("http://app.example:8080", False),  # another port
        ("http://evil.example", False),
        ("http://app.example.evil.example", False),
        ("null", False),
        ("http://user@app.example", False),
        ("http://app.example/path", False),
        ("", False),
    ],
)
def test_without_a_list_only_the_requests_own_origin_may_connect(origin: str, allowed: bool) -> None:
    assert origin_allowed(origin, "http", "app.example", None) is allowed


def test_the_allow_list_is_compared_by_scheme_host_and_port() -> None:
    listed = ("https://app.example", "http://localhost:5173/")
    assert origin_allowed("https://app.example:443", "http", "node:8080", listed)
    assert origin_allowed("http://LOCALHOST:5173", "http", "node:8080", listed)
    assert not origin_allowed("http://app.example", "http", "node:8080", listed)
    assert not origin_allowed("https://app.example:8443", "http", "node:8080", listed)
    assert origin_allowed("https://anything.example", "http", "node:8080", ("*",))


def test_an_origin_is_parsed_with_its_default_port() -> None:
    assert parse_origin("https://App.Example") == ("https", "app.example", 443)
    assert parse_origin("http://[::1]:8080") == ("http", "::1", 8080)
    assert parse_origin("http://app.example:99999") is None


def test_dev_beside_a_real_key_or_on_a_public_host_is_refused_with_a_reason() -> None:
    assert refusals(Settings(dev=True)) == []
    assert any("JWT_SECRET" in r for r in refusals(Settings(dev=True, jwt_secret="s" * 32)))
    assert any("JWT_PUBLIC_KEY" in r for r in refusals(Settings(dev=True, jwt_public_key="-----BEGIN")))
    assert any("127.0.0.1" in r for r in refusals(Settings(dev=True, host="0.0.0.0")))
    assert refusals(Settings(dev=True, host="::1")) == []


def test_a_trip_byte_limit_the_outbound_queue_cannot_carry_is_refused() -> None:
    assert refusals(Settings()) == []
    too_big = replace(Limits(), max_trip_bytes=600_000, outbound_max_bytes=1024 * 1024)
    assert any("--max-trip-bytes" in r for r in refusals(Settings(limits=too_big)))


def test_a_warning_when_allowed_origins_is_unset_on_a_non_loopback_host() -> None:
    assert warnings(Settings(host="127.0.0.1")) == []
    assert any("ALLOWED_ORIGINS" in w for w in warnings(Settings(host="0.0.0.0")))
    assert warnings(Settings(host="0.0.0.0", allowed_origins=("https://app.example",))) == []


def test_the_shipped_nginx_config_logs_paths_without_query_strings() -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    formats = dict(re.findall(r"log_format\s+(\S+)\s+((?:'[^']*'\s*)+);", conf))
    used = re.findall(r"^\s*access_log\s+\S+\s+(\S+?);", conf, re.MULTILINE)
    assert used and all(name in formats for name in used), "every access log names a format defined here"
    for name in used:
        assert not re.search(r"\$(request|request_uri|args|query_string|arg_\w+|http_referer)\b", formats[name]), name
        assert "$uri" in formats[name]


def test_several_nodes_without_a_shared_signing_secret_are_refused_and_one_node_is_warned() -> None:
    rs_only = Settings(jwt_public_key="-----BEGIN PUBLIC KEY-----")
    several = replace(rs_only, redis_url="redis://127.0.0.1:6379/0")
    assert any("RESUME_SECRET" in r for r in refusals(several))  # tickets and invites would fail across nodes
    assert refusals(replace(several, resume_secret="r" * 32)) == []
    assert refusals(replace(several, jwt_secret="s" * 32)) == []  # the JWT secret is shared: it signs them
    assert refusals(Settings(redis_url="redis://127.0.0.1:6379/0", jwt_secret="s" * 32)) == []
    assert refusals(rs_only) == []  # one node: it may, told what it costs
    assert any("invite links" in w and "RESUME_SECRET" in w for w in warnings(rs_only))
    assert not any("RESUME_SECRET" in w for w in warnings(replace(rs_only, resume_secret="r" * 32)))
    assert not any("RESUME_SECRET" in w for w in warnings(Settings(jwt_secret="s" * 32)))
