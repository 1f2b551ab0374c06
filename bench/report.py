"""The results table and JSON lines of ``python -m bench``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

COLUMNS: dict[str, list[tuple[str, str]]] = {
    "fanout": [
        ("deliveries/s", "deliveries_per_s"),
        ("p50 ms", "p50_ms"),
        ("p99 ms", "p99_ms"),
        ("max ms", "max_ms"),
        ("lost", "lost"),
        ("sent", "sent"),
        ("µs CPU/delivery", "server_us_per_delivery"),
        ("server CPU %", "server_cpu_pct"),
        ("loadgen CPU %", "loadgen_cpu_pct"),
        ("disconnected", "disconnected"),
        ("runq wait %", "server_runq_wait_pct"),
        ("deflate agreed", "deflate_agreed"),
    ],
    "idle": [
        ("connections", "connections"),
        ("alive", "alive_after_settle"),
        ("KB/conn", "rss_kb_per_conn"),
        ("connect s", "connect_s"),
        ("connects/s", "connects_per_s"),
        ("µs CPU/connect", "server_us_per_connect"),
        ("loadgen CPU %", "loadgen_cpu_pct"),
        ("runq wait %", "server_runq_wait_pct"),
        ("deflate agreed", "deflate_agreed"),
    ],
    "persist": [
        ("commands/s", "commands_per_s"),
        ("ack p50 ms", "ack_p50_ms"),
        ("ack p99 ms", "ack_p99_ms"),
        ("µs CPU/command", "server_us_per_command"),
        ("durable", "durable_ok"),
        ("errors", "errors"),
        ("loadgen CPU %", "loadgen_cpu_pct"),
        ("runq wait %", "server_runq_wait_pct"),
    ],
    "crossnode": [
        ("absent collaborator", "absent_collaborator"),
        ("sent", "sent"),
        ("received", "received_on_b"),
        ("p50 ms", "p50_ms"),
        ("p99 ms", "p99_ms"),
        ("max ms", "max_ms"),
        ("node A µs CPU/msg", "node_a_us_per_message"),
        ("node B µs CPU/msg", "node_b_us_per_message"),
        ("loadgen µs CPU/msg", "loadgen_us_per_message"),
    ],
    "joinstorm": [
        ("connected", "connected"),
        ("connect s", "connect_s"),
        ("µs CPU/connect", "server_us_per_connect"),
        ("join s", "join_s"),
        ("µs CPU/join", "server_us_per_join"),
        ("back", "back"),
        ("all missed back", "complete_back"),
        ("reconnect+rejoin s", "reconnect_s"),
        ("µs CPU/reconnect", "server_us_per_reconnect"),
        ("server busy % (reconnect)", "reconnect_server_cpu_pct"),
        ("loadgen busy % (reconnect)", "reconnect_loadgen_cpu_pct"),
        ("errors", "errors"),
        ("runq wait % (join)", "join_runq_wait_pct"),
    ],
    "churn": [
        ("rounds", "rounds"),
        ("rounds not all back", "rounds_not_all_back"),
        ("connect failures", "failures"),
        ("join failures", "join_failures"),
        ("s/round", "seconds_per_round"),
        ("µs CPU/reconnect", "server_us_per_reconnect"),
        ("RSS MB joined", "rss_mb_joined"),
        ("RSS MB halfway", "rss_mb_half"),
        ("RSS MB last", "rss_mb_last"),
        ("MB grown in the second half", "rss_mb_second_half"),
        ("errors", "errors"),
    ],
    "recovery": [
        ("behind", "behind"),
        ("rounds", "ok_rounds"),
        ("rejoin p50 ms", "rejoin_p50_ms"),
        ("rejoin p99 ms", "rejoin_p99_ms"),
        ("connect+rejoin p50 ms", "connect_and_rejoin_p50_ms"),
    ],
}


def family(case: str) -> str:
    for prefix in COLUMNS:
        if case.startswith(prefix):
            return prefix
    return case


def write_jsonl(path: Path, row: dict[str, Any]) -> None:
    with path.open("a") as out:
        out.write(json.dumps(row) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def markdown_rows(rows: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    seen: list[str] = []
    for row in rows:
        if family(row["case"]) not in seen:
            seen.append(family(row["case"]))
    for fam in seen:
        cols = COLUMNS.get(fam, [])
        lines.append("")
        lines.append("| case | server | round | " + " | ".join(title for title, _ in cols) + " |")
        lines.append("|" + " --- |" * (3 + len(cols)))
        for row in rows:
            if family(row["case"]) != fam:
                continue
            if "error" in row or "skipped" in row:
                note = row.get("error") or f"skipped: {row['skipped']}"
                lines.append(f"| {row['case']} | {row.get('server')} | {row.get('round', '')} | {note} |")
                continue
            cells = [_cell(row.get(key)) for _, key in cols]
            head = f"| {row['case']} | {row.get('server')} | {row.get('round', '')} | "
            lines.append(head + " | ".join(cells) + " |")
    return lines


def print_table(rows: list[dict[str, Any]]) -> None:
    print("\n".join(markdown_rows(rows)))
