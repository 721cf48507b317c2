"""Prometheus text exposition (format 0.0.4) without a client library: counters, gauges, histograms."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence

__all__ = ["LATENCY_BUCKETS", "Metrics"]

LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
)  # fmt: skip

Labels = tuple[tuple[str, str], ...]


def _labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{k}="{_escape(v)}"' for k, v in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Histogram:
    def __init__(self, buckets: Sequence[float]) -> None:
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value


class Metrics:
    """A small registry. Counters and histograms are keyed by label tuples; gauges are read
    from callbacks at scrape time (queue depth, cache hits held by the engine)."""

    def __init__(self, prefix: str = "rubricate_") -> None:
        self.prefix = prefix
        self._help: dict[str, tuple[str, str]] = {}
        self._counters: dict[str, dict[Labels, float]] = {}
        self._histograms: dict[str, dict[Labels, _Histogram]] = {}
        self._buckets: dict[str, tuple[float, ...]] = {}
        self._callbacks: dict[str, Callable[[], float]] = {}

    def counter(self, name: str, help_text: str) -> None:
        self._help[name] = ("counter", help_text)
        self._counters.setdefault(name, {})

    def histogram(
        self, name: str, help_text: str, buckets: Sequence[float] = LATENCY_BUCKETS
    ) -> None:
        self._help[name] = ("histogram", help_text)
        self._histograms.setdefault(name, {})
        self._buckets[name] = tuple(buckets)

    def callback(self, name: str, kind: str, help_text: str, read: Callable[[], float]) -> None:
        """A gauge or counter whose value is read when scraped."""
        self._help[name] = (kind, help_text)
        self._callbacks[name] = read

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        series = self._counters[name]
        series[key] = series.get(key, 0.0) + amount

    def observe(self, name: str, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        series = self._histograms[name]
        if key not in series:
            series[key] = _Histogram(self._buckets[name])
        series[key].observe(value)

    def value(self, name: str, **labels: str) -> float:
        """A counter's current value (0 when never incremented), or a callback's reading."""
        if name in self._callbacks:
            return float(self._callbacks[name]())
        return self._counters.get(name, {}).get(tuple(sorted(labels.items())), 0.0)

    def render(self) -> str:
        lines: list[str] = []
        for name, (kind, help_text) in self._help.items():
            full = self.prefix + name
            lines.append(f"# HELP {full} {help_text}")
            lines.append(f"# TYPE {full} {kind}")
            if name in self._callbacks:
                lines.append(f"{full} {_number(self._callbacks[name]())}")
            elif name in self._counters:
                for labels, value in sorted(self._counters[name].items()):
                    lines.append(f"{full}{_labels(labels)} {_number(value)}")
            elif name in self._histograms:
                for labels, histogram in sorted(self._histograms[name].items()):
                    cumulative = 0
                    for bound, count in zip(histogram.buckets, histogram.counts, strict=False):
                        cumulative += count
                        le = 'le="' + _number(bound) + '"'
                        lines.append(f"{full}_bucket{_labels(labels, le)} {cumulative}")
                    cumulative += histogram.counts[-1]
                    inf = 'le="+Inf"'
                    lines.append(f"{full}_bucket{_labels(labels, inf)} {cumulative}")
                    lines.append(f"{full}_sum{_labels(labels)} {_number(histogram.total)}")
                    lines.append(f"{full}_count{_labels(labels)} {cumulative}")
        return "\n".join(lines) + "\n"
