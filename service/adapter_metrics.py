"""Counters an adapter keeps itself (the Redis bus, Redis presence), read at
scrape time into a node's Prometheus registry.

An adapter offers ``metrics() -> {name: value}``; names ending in ``_size`` and
those in ``GAUGES`` are gauges, every other one a counter (exposed with
``_total``).  Every name is exposed under the service's ``travelsense_`` prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

Report = Callable[[], Mapping[str, float]]
PREFIX = "travelsense_"
GAUGES = frozenset({"bus_reader_lag_seconds", "bus_reader_idle_seconds"})


class AdapterStats(Collector):
    def __init__(self, report: Report, what: str) -> None:
        self._report = report
        self._what = what

    def collect(self) -> Iterator[Metric]:
        for name, value in sorted(self._report().items()):
            help_text = f"{self._what}: {name.replace('_', ' ')}"
            if name.endswith("_size") or name in GAUGES:
                yield GaugeMetricFamily(PREFIX + name, help_text, value=value)
            else:
                yield CounterMetricFamily(PREFIX + name, help_text, value=value)
