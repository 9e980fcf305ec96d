"""The loop users write, and how the cost grows with partitions (``./bench/run per_message scale``).

``per_message``: consumers that iterate (``for message in messages``) and read ``.offset`` +
``.raw_payload`` (touch) or ``.payload`` (the default JSON deserializer), against raw
confluent-kafka ``consume(1000)`` loops doing the same per-message work, same tuning, medians of
alternated rounds. ``scale``: the touch ratio at 6, 60 and 600 partitions (same total), and an
idle server holding 600 partitions: CPU and RSS per partition beside one holding 6.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import time
import uuid
from typing import TYPE_CHECKING, Any

import psutil

from karafka_django.deserializers import json_deserializer

if TYPE_CHECKING:
    from bench.bench import Bench

#: ~200 bytes of JSON, as the issue measured.
PAYLOAD = json.dumps({"id": 123456, "kind": "order.created", "customer": "c-0042", "currency": "EUR",
                      "lines": [{"sku": "sku-0001", "qty": 2, "price": 1999}, {"sku": "sku-0002", "qty": 1, "price": 499}],
                      "note": "x" * 24}).encode()
ROUNDS, CONCURRENCY = 3, 2
IDLE_SECONDS = 10


def _side_by_side(bench: Bench, consumer: str, topic: str, total: int, parse_json: bool, goal: float) -> dict[str, Any]:
    """Raw loop, framework (and, for JSON, the raw loop with the framework's own loader) alternated."""
    rates: dict[str, list[float]] = {"raw": [], "karafka": [], "raw_same_loader": []}
    for _ in range(ROUNDS):
        rates["raw"].append(bench.raw_rate(topic, total, parse_json=parse_json))
        rates["karafka"].append(bench.framework_rate(consumer, topic, total, concurrency=CONCURRENCY, max_messages=1000))
        if parse_json:
            rates["raw_same_loader"].append(bench.raw_rate(topic, total, parse_json=True, loads=json_deserializer.loads))
    raw, karafka = statistics.median(rates["raw"]), statistics.median(rates["karafka"])
    figures = {"raw_msgs_per_s": round(raw), "karafka_msgs_per_s": round(karafka), "ratio": round(karafka / raw, 3),
               "ratios_per_round": [round(f / r, 2) for f, r in zip(rates["karafka"], rates["raw"])]}
    if parse_json:  # the framework's own cost, with the parsing equal on both sides
        same = statistics.median(rates["raw_same_loader"])
        figures |= {"raw_same_loader_msgs_per_s": round(same), "ratio_to_same_loader": round(karafka / same, 3)}
    return figures | {"goal": f">= {goal}", "goal_met": karafka / raw >= goal}


def per_message(bench: Bench) -> dict[str, Any]:
    total = 1_000_000
    topic = bench.topic("per-message", 6, total, payload=PAYLOAD)
    touch = _side_by_side(bench, "IteratingReader", topic, total, parse_json=False, goal=0.8)
    as_json = _side_by_side(bench, "IteratingJsonReader", topic, total // 4, parse_json=True, goal=0.9)
    return {"touch": touch, "json": as_json, "goal_met": touch["goal_met"] and as_json["goal_met"]}


def scale(bench: Bench) -> dict[str, Any]:
    total = 600_000
    ratios = {}
    for partitions in (6, 60, 600):
        topic = bench.topic(f"scale-{partitions}", partitions, total, payload=PAYLOAD)
        ratios[partitions] = _side_by_side(bench, "IteratingReader", topic, total, parse_json=False, goal=0)
    drop = 1 - ratios[600]["ratio"] / ratios[6]["ratio"]
    idle = {partitions: _idle(bench, partitions) for partitions in (6, 600)}
    per_partition_kb = (idle[600]["rss_mb"] - idle[6]["rss_mb"]) * 1024 / 594
    goal_met = drop <= 0.10 and idle[600]["cpu_percent"] < 2 and per_partition_kb < 20
    return {f"partitions_{p}": {k: v for k, v in r.items() if not k.startswith("goal")} for p, r in ratios.items()} | {
        "ratio_drop_6_to_600": round(drop, 3), "idle": idle, "rss_kb_per_partition": round(per_partition_kb, 1),
        "goal": "ratio drop <= 10%, idle CPU < 2% of a core at 600 partitions, < 20 kB RSS per partition",
        "goal_met": goal_met}


def _idle(bench: Bench, partitions: int) -> dict[str, float]:
    """CPU (% of one core) and RSS of a server process holding ``partitions`` with no traffic."""
    topic = bench.topic(f"idle-{partitions}", partitions, 0)
    group = f"idle-{uuid.uuid4().hex[:6]}"
    route = {"topic": topic, "consumer": "bench.benchapp.consumers.IteratingReader"}
    process = bench.server_process({"CLIENT_ID": group, "ROUTES": [route]})
    try:
        _wait_for_assignment(bench, group, partitions)
        watched = psutil.Process(process.pid)
        before, started = watched.cpu_times(), time.monotonic()
        time.sleep(IDLE_SECONDS)  # the measurement window itself: idle CPU is a rate over time
        after, elapsed = watched.cpu_times(), time.monotonic() - started
        cpu = (after.user + after.system - before.user - before.system) / elapsed * 100
        return {"cpu_percent": round(cpu, 2), "rss_mb": round(watched.memory_info().rss / 2**20, 1)}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)


def _wait_for_assignment(bench: Bench, group: str, partitions: int, timeout: float = 60) -> None:
    """Until the group's one member holds every partition (then a few seconds for start-up work to settle)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = bench.admin.describe_consumer_groups([group])[group].result(10)
        held = sum(len(m.assignment.topic_partitions) for m in described.members)
        if held == partitions:
            time.sleep(3)  # settle: the first fetches and offset lookups of a fresh assignment
            return
        time.sleep(0.2)
    raise TimeoutError(f"{group} never held its {partitions} partitions")
