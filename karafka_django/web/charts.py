"""Charts of throughput, lag and RSS per process and per topic over 1 h, 24 h or 7 d, drawn from
the reports topic (the only store: no database table, no aggregating process).

A range is not read whole (7 days of 5 s reports is 120,000 records a process): it is sampled at
``POINTS`` times aligned to the range's step, the first report of each process at or after each
time (the broker's time index finds the offset), plus the latest reports as the last point.
Aligned samples never change once their step has passed, so the reader keeps them and a page
reads only what is new. Rendered as inline SVG: no script, nothing fetched from the internet.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

RANGES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
POINTS = 60
#: A chart draws this many series (the largest); the others are counted under it.
MAX_SERIES = 8
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")

TopicKey = tuple[str, str]  # (consumer group, topic)
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Sample:
    """What the charts need of one process report."""

    at: datetime
    started_at: str  # a restart resets the counters: no rate across it
    processed: int
    rss_mb: float
    lag: dict[TopicKey, int]
    processed_by_topic: dict[TopicKey, int]

    @classmethod
    def of(cls, report: dict[str, Any]) -> Sample:
        """``report`` as :func:`~karafka_django.instrumentation.records.read_report` returns it."""
        lag: dict[TopicKey, int] = {}
        for p in report["partitions"]:
            if p["lag"] is not None and p["lag"] >= 0:
                key = (p["consumer_group"], p["topic"])
                lag[key] = lag.get(key, 0) + p["lag"]
        return cls(datetime.fromisoformat(report["reported_at"]), report["started_at"], report["processed"],
                   report["rss_mb"], lag,
                   {(t["consumer_group"], t["topic"]): t["processed"] for t in report.get("topics", ())})


#: One point of a chart: when, and the sample of each process there.
Point = tuple[datetime, dict[str, Sample]]
Values = list["float | None"]


def sample_times(span: timedelta, now: datetime) -> tuple[timedelta, list[datetime]]:
    """The step of ``span`` and its ``POINTS`` sample times, aligned to the step (so they repeat
    from one page to the next), the last at or before ``now``."""
    step = span / POINTS
    step_s = step.total_seconds()
    last = int(now.timestamp() // step_s) * step_s
    return step, [datetime.fromtimestamp(last - k * step_s, tz=now.tzinfo) for k in reversed(range(POINTS))]


def topic_name(key: TopicKey) -> str:
    group, topic = key
    return f"{topic} ({group})"


def per_process(points: list[Point], value: Callable[[Sample], float]) -> dict[str, Values]:
    processes = sorted({pid for _, samples in points for pid in samples})
    return {pid: [value(samples[pid]) if pid in samples else None for _, samples in points] for pid in processes}


def per_topic_lag(points: list[Point]) -> dict[str, Values]:
    """The lag of each (group, topic), summed over the processes that own its partitions."""
    keys = sorted({key for _, samples in points for s in samples.values() for key in s.lag})
    return {topic_name(key): [_sum(s.lag.get(key) for s in samples.values()) for _, samples in points] for key in keys}


def rates(points: list[Point], counters: Callable[[str, Sample], dict[K, int]]) -> dict[K, Values]:
    """Per key, summed over processes: how fast its counter grew (per second) since the previous
    point; None where no process has two samples of one run to compare."""
    out: dict[K, Values] = {}
    for i in range(1, len(points)):
        for pid, after in points[i][1].items():
            before = points[i - 1][1].get(pid)
            if before is None or before.started_at != after.started_at:
                continue
            seconds = (after.at - before.at).total_seconds()
            if seconds <= 0:
                continue
            earlier = counters(pid, before)
            for key, count in counters(pid, after).items():
                values = out.setdefault(key, [None] * len(points))
                values[i] = (values[i] or 0.0) + max(0, count - earlier.get(key, 0)) / seconds
    return dict(sorted(out.items(), key=lambda item: str(item[0])))


def charts(points: list[Point]) -> list[tuple[str, str, dict[str, Values]]]:
    """(title, unit, series) of every chart of the page."""
    by_topic = rates(points, lambda _pid, s: s.processed_by_topic)
    return [
        ("Throughput per process", "messages/s", rates(points, lambda pid, s: {pid: s.processed})),
        ("Throughput per topic", "messages/s", {topic_name(k): v for k, v in by_topic.items()}),
        ("Lag per process", "messages", per_process(points, lambda s: sum(s.lag.values()))),
        ("Lag per topic", "messages", per_topic_lag(points)),
        ("RSS per process", "MB", per_process(points, lambda s: s.rss_mb)),
    ]


def _sum(values: Any) -> float | None:
    found = [v for v in values if v is not None]
    return sum(found) if found else None


# -- drawing -------------------------------------------------------------------------------------

WIDTH, HEIGHT, LEFT, BOTTOM = 760, 180, 56, 20


def line_chart(title: str, unit: str, times: list[datetime], series: dict[str, Values], time_format: str) -> SafeString:
    """An SVG line chart of the ``MAX_SERIES`` largest series with a legend; gaps where a value is None."""
    ranked = sorted(series.items(), key=lambda item: -max((v for v in item[1] if v is not None), default=0))
    drawn, hidden = ranked[:MAX_SERIES], len(ranked) - MAX_SERIES
    top = _nice(max((v for _, values in drawn for v in values if v is not None), default=0))
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - 8

    def xy(i: int, value: float) -> str:
        return f"{LEFT + i * plot_w / max(1, len(times) - 1):.1f},{8 + plot_h - value / top * plot_h:.1f}"

    lines = []
    for (name, values), color in zip(drawn, PALETTE):
        runs: list[list[str]] = []
        run: list[str] = []
        for i, value in enumerate(values + [None]):
            if value is None:
                if run:
                    runs.append(run)
                run = []
            else:
                run.append(xy(i, value))
        shapes = format_html_join("", '<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>',
                                  ((color, " ".join(r)) for r in runs if len(r) > 1))
        dots = format_html_join("", '<circle r="2" fill="{}" cx="{}" cy="{}"/>',
                                ((color, *r[0].split(",")) for r in runs if len(r) == 1))
        lines.append(format_html('<g><title>{}</title>{}{}</g>', name, shapes, dots))
    ticks = [0, len(times) // 2, len(times) - 1] if times else []
    x_labels = format_html_join("", '<text x="{}" y="{}" text-anchor="{}">{}</text>',
                                ((f"{LEFT + i * plot_w / max(1, len(times) - 1):.0f}", HEIGHT - 4, anchor,
                                  times[i].strftime(time_format)) for i, anchor in zip(ticks, ("start", "middle", "end"))))
    legend = format_html_join("", '<li><span style="color:{}">&#9632;</span> {}</li>', ((c, n) for (n, _), c in zip(drawn, PALETTE)))
    return format_html(
        '<figure class="chart"><figcaption>{} ({})</figcaption>'
        '<svg width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        '<line x1="{}" y1="8" x2="{}" y2="{}" stroke="#999"/><line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>'
        '<text x="{}" y="14" text-anchor="end">{}</text><text x="{}" y="{}" text-anchor="end">0</text>{}{}</svg>'
        '<ul class="legend">{}</ul>{}</figure>',
        title, unit, WIDTH, HEIGHT, WIDTH, HEIGHT, title,
        LEFT, LEFT, 8 + plot_h, LEFT, 8 + plot_h, WIDTH - 8, 8 + plot_h,
        LEFT - 4, f"{top:g}", LEFT - 4, 8 + plot_h, x_labels, format_html_join("", "{}", ((line,) for line in lines)),
        legend if drawn else mark_safe("<li>no data in this range</li>"),
        format_html('<p class="help">{} more not drawn</p>', hidden) if hidden > 0 else "",
    )


def _nice(value: float) -> float:
    """The axis top: 1, 2 or 5 times a power of ten, at or above ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** len(str(int(value)))
    for top in (power / 10, power / 5, power / 2, power):
        if top >= value:
            return float(top)
    return float(power)


def sparkline(values: list[float], width: int = 160, height: int = 28) -> SafeString:
    """An inline SVG polyline of ``values`` (no script, no external file)."""
    if len(values) < 2:
        return format_html('<svg class="sparkline" width="{}" height="{}" role="img" aria-label="no data yet"></svg>', width, height)
    low, high = min(values), max(values)
    span = (high - low) or 1
    step = width / (len(values) - 1)
    points = " ".join(f"{i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}" for i, v in enumerate(values))
    return format_html(
        '<svg class="sparkline" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{} to {}">'
        '<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{}"/></svg>',
        width, height, width, height, f"{values[0]:g}", f"{values[-1]:g}", points)
