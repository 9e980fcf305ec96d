"""Chart series from sampled reports, and their drawing (pure logic: synthetic reports)."""

import re
from datetime import UTC, datetime, timedelta

from karafka_django.web.charts import RANGES, Sample, charts, line_chart, sample_times

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def sample(minute: int, processed: int, lag: int = 0, rss: float = 60.0, started: str = "a", by_topic=None) -> Sample:
    return Sample(T0 + timedelta(minutes=minute), started, processed, rss, {("app", "orders"): lag},
                  by_topic if by_topic is not None else {("app", "orders"): processed})


def test_sample_times_repeat_from_one_page_to_the_next_and_end_at_or_before_now():
    now = T0 + timedelta(minutes=7, seconds=13)
    step, times = sample_times(RANGES["1h"], now)
    assert step == timedelta(minutes=1) and len(times) == 60
    assert times[-1] == T0 + timedelta(minutes=7) and times[0] == times[-1] - 59 * step
    assert sample_times(RANGES["1h"], now + timedelta(seconds=40))[1] == times
    assert sample_times(RANGES["7d"], now)[0] == timedelta(hours=2, minutes=48)


def test_throughput_is_the_counter_growth_per_second_and_restarts_break_the_line():
    points = [
        (T0, {"p1": sample(0, 0), "p2": sample(0, 100)}),
        (T0 + timedelta(minutes=1), {"p1": sample(1, 600), "p2": sample(1, 220)}),
        (T0 + timedelta(minutes=2), {"p1": sample(2, 30, started="b"), "p2": sample(2, 220)}),  # p1 restarted
        (T0 + timedelta(minutes=3), {"p2": sample(3, 280)}),
    ]
    titles = {title: series for title, _, series in charts(points)}
    assert titles["Throughput per process"] == {"p1": [None, 10.0, None, None], "p2": [None, 2.0, 0.0, 1.0]}
    assert titles["Throughput per topic"] == {"orders (app)": [None, 12.0, 0.0, 1.0]}, "summed over processes"


def test_lag_and_rss_per_process_and_lag_per_topic_summed_over_the_owners():
    points = [(T0, {"p1": sample(0, 0, lag=5, rss=70.5), "p2": sample(0, 0, lag=7)}), (T0 + timedelta(minutes=1), {})]
    titles = {title: series for title, _, series in charts(points)}
    assert titles["Lag per process"] == {"p1": [5, None], "p2": [7, None]}
    assert titles["Lag per topic"] == {"orders (app)": [12, None]}
    assert titles["RSS per process"] == {"p1": [70.5, None], "p2": [60.0, None]}


def test_a_chart_draws_the_largest_series_escapes_names_and_breaks_lines_at_gaps():
    times = [T0 + timedelta(minutes=m) for m in range(4)]
    series = {f"<b>t{n}</b>": [n, None, n, n] for n in range(10)}
    svg = str(line_chart("Lag per topic", "messages", times, series, "%H:%M"))
    assert "<b>" not in svg and "&lt;b&gt;t9&lt;/b&gt;" in svg and "t0" not in svg and "t1<" not in svg
    assert "2 more not drawn" in svg
    assert svg.count("<polyline") == 8 and svg.count("<circle") == 8, "one line after the gap, one dot before it"
    assert re.search(r'<text x="\d+" y="14" text-anchor="end">10</text>', svg), "the axis top rounded up from 9"
    assert "12:00" in svg and "12:03" in svg
    empty = str(line_chart("RSS", "MB", times, {}, "%H:%M"))
    assert "no data in this range" in empty and "<polyline" not in empty
