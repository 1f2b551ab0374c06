"""The alert rules and the Grafana dashboard in ``deploy/`` name only metrics a
node exports (so none silently never fires or stays empty), and the rules pass
``promtool check rules`` where promtool is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from eventlog.redis_bus import RedisStreamsBus
from service.adapter_metrics import GAUGES, PREFIX
from service.metrics import _ERROR_CODES, CLOSE_REASONS, Metrics

DEPLOY = Path(__file__).resolve().parent.parent.parent / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "travelsense.json"
SCRAPE = DEPLOY / "prometheus" / "prometheus.yml"
METRIC = re.compile(r"\b((?:travelsense|process|python)_[a-zA-Z0-9_]+)")


def exported() -> set[str]:
    """Every series name a node with Redis exposes."""
    names: set[str] = set()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "info": ("_info",)}
    for family in Metrics().registry.collect():  # labelled families have no samples before their first use
        names |= {family.name + suffix for suffix in suffixes.get(family.type, ("",))}
        names |= {sample.name for sample in family.samples}
    for name in RedisStreamsBus("redis://127.0.0.1:1/0").metrics():
        gauge = name.endswith("_size") or name in GAUGES
        names.add(f"{PREFIX}{name}" if gauge else f"{PREFIX}{name}_total")
    return names


def rule_expressions() -> list[str]:
    document = yaml.safe_load(RULES.read_text())
    return [rule["expr"] for group in document["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    document = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in document["panels"] for target in panel["targets"]]


@pytest.mark.parametrize("source", [rule_expressions, dashboard_expressions], ids=["alerts", "dashboard"])
def test_every_expression_names_only_exported_metrics(source: object) -> None:
    known = exported()
    assert callable(source)
    expressions = source()
    assert expressions
    for expr in expressions:
        named = set(METRIC.findall(expr))
        assert named, f"names no metric: {expr}"
        assert named <= known, f"{expr}: not exported: {sorted(named - known)}"


SELECTOR = re.compile(r"\b((?:travelsense|process|python)_[a-zA-Z0-9_]+)\{([^}]*)\}")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')
# the closed sets a node's label values come from (service/metrics.py)
LABEL_VALUES = {
    "reason": set(CLOSE_REASONS.values()) | {"other"},
    "code": set(_ERROR_CODES) | {"other"},
    "transport": {"ws", "rest"},
}


def label_names() -> dict[str, set[str]]:
    """Each exported series name's labels (a labelled family has no samples before its first use)."""
    names: dict[str, set[str]] = {}
    for collector, registered in Metrics().registry._collector_to_names.items():
        labels = set(getattr(collector, "_labelnames", ()))
        for name in registered:
            names[name] = labels | ({"le"} if name.endswith("_bucket") else set())
    return names


@pytest.mark.parametrize("source", [rule_expressions, dashboard_expressions], ids=["alerts", "dashboard"])
def test_every_label_matcher_names_a_label_and_values_the_node_writes(source: object) -> None:
    """A typo in a label or its value ({reason="too-slow"}) would leave an alert that never fires."""
    labels = label_names()
    assert callable(source)
    for expr in source():
        for metric, matchers in SELECTOR.findall(expr):
            for label, op, value in MATCHER.findall(matchers):
                assert label in labels.get(metric, set()), f"{expr}: {metric} has no label {label}"
                if label in LABEL_VALUES and op in ("=", "=~"):
                    wanted = set(value.split("|")) if op == "=~" else {value}
                    assert wanted <= LABEL_VALUES[label], (
                        f"{expr}: {label} is never {sorted(wanted - LABEL_VALUES[label])}"
                    )


def test_the_alerts_cover_what_operators_watch() -> None:
    text = " ".join(rule_expressions())
    for metric in (
        "travelsense_event_loop_lag_seconds",
        "travelsense_projection_lag_records",
        "travelsense_bus_reader_idle_seconds",
        'travelsense_ws_disconnects_total{reason="too_slow"}',
        "travelsense_realtime_errors_total",
    ):
        assert metric in text, metric


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_rules() -> None:
    done = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_scrape_config_reads_metrics_with_the_scrape_token_and_loads_the_rules() -> None:
    config = yaml.safe_load(SCRAPE.read_text())
    assert config["rule_files"] == [RULES.name]
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["authorization"]["type"] == "Bearer"
    nodes = [
        name
        for name in yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]
        if name.startswith("node-")
    ]
    assert sorted(job["static_configs"][0]["targets"]) == sorted(f"{name}:8080" for name in nodes)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_scrape_config(tmp_path: Path) -> None:
    for source in (SCRAPE, RULES):
        shutil.copy(source, tmp_path / source.name)
    (tmp_path / "metrics-token").write_text("a-scrape-token")
    done = subprocess.run(
        ["promtool", "check", "config", str(tmp_path / SCRAPE.name)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
