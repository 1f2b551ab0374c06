"""Settings: every bad flag or environment value is one ``SettingsError`` naming it;
yes/no variables take the usual spellings; ``--help`` names every flag's
environment variable and default."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from config import _LIMIT_FLAGS, _LIMIT_HELP, Settings, SettingsError, load_settings, refusals, server_parser
from tests.server import ROOT


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PORT": "abc"}, "PORT='abc'"),
        ({"PORT": "70000"}, "PORT='70000'"),
        ({"RATE_BURST": "1.5"}, "RATE_BURST='1.5'"),
        ({"RATE_PER_SECOND": "fast"}, "RATE_PER_SECOND='fast'"),
        ({"MAX_CONNECTIONS": "-1"}, "MAX_CONNECTIONS='-1'"),
        ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL='verbose'"),
        ({"EVENT_LOOP": "trio"}, "EVENT_LOOP='trio'"),
        ({"DEV": "maybe"}, "DEV='maybe'"),
        ({"CHECKPOINT_INTERVAL": "soon"}, "CHECKPOINT_INTERVAL='soon'"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL='localhost:6379'"),
        ({"STORE_URL": "data/events.db"}, "STORE_URL='data/events.db'"),
        ({"STORE_URL": "postgres://db/x"}, "STORE_URL='postgres://db/x'"),
        ({"DEFLATE": "gzip"}, "DEFLATE='gzip'"),
        ({"JWT_PUBLIC_KEY": "/no/such/key.pem"}, "JWT_PUBLIC_KEY='/no/such/key.pem'"),
        ({"ALLOWED_ORIGINS": "app.example"}, "ALLOWED_ORIGINS='app.example'"),
        ({"ALLOWED_ORIGINS": "https://app.example/page"}, "ALLOWED_ORIGINS='https://app.example/page'"),
        ({"ALLOWED_ORIGINS": "https://app.example:port"}, "ALLOWED_ORIGINS='https://app.example:port'"),
    ],
)
def test_a_bad_environment_value_is_named(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(named)):
        load_settings([], env)


@pytest.mark.parametrize(
    "argv",
    [
        ["--port", "abc"],
        ["--rate-burst", "1.5"],
        ["--log-level", "verbose"],
        ["--bogus"],
        ["--port"],
        ["--redis", "6379"],
        ["--store", "events.db"],
    ],
)
def test_a_bad_flag_is_a_settings_error(argv: list[str]) -> None:
    with pytest.raises(SettingsError):
        load_settings(argv, {})


@pytest.mark.parametrize("text", ["1", "true", "TRUE", "yes", "on"])
def test_dev_takes_the_usual_spellings_of_yes(text: str) -> None:
    assert load_settings([], {"DEV": text}).dev


@pytest.mark.parametrize("text", ["", "0", "false", "no", "off"])
def test_dev_takes_the_usual_spellings_of_no(text: str) -> None:
    assert not load_settings([], {"DEV": text}).dev


def test_a_public_key_file_that_holds_no_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_text("not a key\n")
    with pytest.raises(SettingsError, match="holds no PEM key"):
        load_settings([], {"JWT_PUBLIC_KEY": str(tmp_path / "key.pem")})
    (tmp_path / "key.pem").write_text("-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----\n")
    assert "BEGIN PUBLIC KEY" in (load_settings([], {"JWT_PUBLIC_KEY": str(tmp_path / "key.pem")}).jwt_public_key or "")


def test_values_are_read_from_flags_over_environment() -> None:
    settings = load_settings(["--port", "9000"], {"PORT": "8000", "LOG_LEVEL": "debug", "RATE_BURST": "7"})
    assert (settings.port, settings.log_level, settings.limits.rate_burst) == (9000, "DEBUG", 7)


def test_help_names_every_flag_with_its_variable_and_default() -> None:
    text = " ".join(server_parser({}).format_help().split())
    for action in server_parser({})._actions:
        if action.option_strings == ["-h", "--help"]:
            continue
        assert re.search(r"\[\$[A-Z_]+(=1/true/yes)?, default [^\]]+\]", action.help or ""), action.option_strings
    for _, var, _ in _LIMIT_FLAGS.values():
        assert f"${var}" in text
    for command in ("replay", "trip-at", "export", "verify", "migrate", "erase", "rebuild-sessions"):
        assert f" {command} " in text
    for var in ("JWT_SECRET", "JWT_PUBLIC_KEY", "METRICS_TOKEN", "CHECKPOINT_KEY", "RESUME_SECRET", "BUILD_REVISION"):
        assert var in text


def test_the_readme_names_every_flag_and_its_variable() -> None:
    readme = (ROOT / "README.md").read_text()
    for action in server_parser({})._actions:
        flag = action.option_strings[-1]
        if flag == "--help":
            continue
        named = re.search(r"\$([A-Z_]+)", action.help or "")
        assert named and f"`{flag}`" in readme and f"`{named.group(1)}" in readme, flag


def test_every_limit_says_what_it_bounds() -> None:
    """Not its field name spelled out ("max body bytes"): what it limits, or its unit."""
    for name, _, _ in _LIMIT_FLAGS.values():
        assert _LIMIT_HELP.get(name, name.replace("_", " ")) != name.replace("_", " "), name


def test_a_bad_value_ends_the_server_in_one_line() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        env={"PORT": "abc", "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stderr == "error: PORT='abc': not an integer\n"


def test_a_short_checkpoint_key_is_refused() -> None:
    assert any("CHECKPOINT_KEY" in problem for problem in refusals(Settings(checkpoint_key="k" * 31)))
    assert not refusals(Settings(checkpoint_key="k" * 32))


def test_allowed_origins_take_origins_and_the_wildcard() -> None:
    listed = load_settings([], {"ALLOWED_ORIGINS": "https://app.example, http://localhost:8080"}).allowed_origins
    assert listed == ("https://app.example", "http://localhost:8080")
    assert load_settings([], {"ALLOWED_ORIGINS": "*"}).allowed_origins == ("*",)
    assert load_settings([], {"ALLOWED_ORIGINS": ""}).allowed_origins is None
