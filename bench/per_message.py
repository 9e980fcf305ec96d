"""The loop users write, and how the cost grows with partitions (``./bench/run per_message scale``).

``per_message``: consumers that iterate (``for message in messages``) and read ``.offset`` +
``.raw_payload`` (touch) or ``.payload`` (the default JSON deserializer), against raw
confluent-kafka ``consume(1000)`` loops doing the same per-message work, same tuning, medians of
alternated rounds; beside them, a consumer that reads nothing against the same touch loop: the
framework's ceiling for any per-message loop. ``scale``: the touch ratio at 6, 60 and 600
partitions (same total), and an idle server holding 600 partitions: CPU and RSS per partition
beside one holding 6.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from bench.deploys import partitions_owned, wait_for
from karafka_django.brokers import free_port
from karafka_django.deserializers import json_deserializer

if TYPE_CHECKING:
    from bench.bench import Bench

#: ~200 bytes of JSON, as the issue measured.
PAYLOAD = json.dumps({"id": 123456, "kind": "order.created", "customer": "c-0042", "currency": "EUR",
                      "lines": [{"sku": "sku-0001", "qty": 2, "price": 1999}, {"sku": "sku-0002", "qty": 1, "price": 499}],
                      "note": "x" * 24}).encode()
ROUNDS, CONCURRENCY = 3, 2
ROOT = Path(__file__).resolve().parents[1]
IDLE_SECONDS = 10
#: After every partition is assigned: the first fetches and offset lookups settle.
SETTLE_S = 3


def _side_by_side(bench: Bench, consumer: str, topic: str, total: int, parse_json: bool, goal: float) -> dict[str, Any]:
    return bench.side_by_side(consumer, topic, total, parse_json, goal, rounds=ROUNDS, concurrency=CONCURRENCY,
                              same_loader=json_deserializer.loads if parse_json else None)


def per_message(bench: Bench) -> dict[str, Any]:
    total = 1_000_000
    topic = bench.topic("per-message", 6, total, payload=PAYLOAD)
    touch = _side_by_side(bench, "IteratingReader", topic, total, parse_json=False, goal=0.8)
    reading_nothing = _side_by_side(bench, "Counter", topic, total, parse_json=False, goal=0)
    as_json = _side_by_side(bench, "IteratingJsonReader", topic, total // 4, parse_json=True, goal=0.9)
    return {"touch": touch, "json": as_json, "goal_met": touch["goal_met"] and as_json["goal_met"],
            "ceiling_reading_nothing": {k: v for k, v in reading_nothing.items() if not k.startswith("goal")}}


def scale(bench: Bench) -> dict[str, Any]:
    total = 600_000
    ratios = {}
    for partitions in (6, 60, 600):
        topic = bench.topic(f"scale-{partitions}", partitions, total, payload=PAYLOAD)
        ratios[partitions] = _side_by_side(bench, "IteratingReader", topic, total, parse_json=False, goal=0)
    drop = 1 - ratios[600]["ratio"] / ratios[6]["ratio"]
    idle = {"6": _idle(bench, 1, 6, 1), "600": _idle(bench, 1, 600, 1), "600_in_20_routes_5_groups": _idle(bench, 20, 30, 5)}
    per_partition_kb = {k: round((v["rss_mb"] - idle["6"]["rss_mb"]) * 1024 / 594, 1) for k, v in idle.items() if k != "6"}
    goal_met = (drop <= 0.10 and all(v["cpu_percent"] < 2 for v in idle.values())
                and all(kb < 20 for kb in per_partition_kb.values()) and all(v["estimates_match"] for v in idle.values()))
    return {f"partitions_{p}": {k: v for k, v in r.items() if not k.startswith("goal")} for p, r in ratios.items()} | {
        "ratio_drop_6_to_600": round(drop, 3), "idle": idle, "rss_kb_per_partition": per_partition_kb,
        "goal": "ratio drop <= 10%; idle at 600 partitions: CPU < 2% of a core, < 20 kB RSS per partition, "
                "karafka_info's threads and TCP as measured, RSS under its peak estimate",
        "goal_met": goal_met}


def _idle(bench: Bench, topics: int, partitions: int, groups: int) -> dict[str, Any]:
    """CPU (% of one core), RSS, threads and TCP of a server process holding ``topics`` empty topics
    of ``partitions`` each (routed in ``groups`` subscription groups) with no traffic, beside what
    ``karafka_info`` predicts for the same settings."""
    from karafka_django.instrumentation.resources import measure

    routes = [{"topic": bench.topic(f"idle-{partitions}", partitions, 0), "subscription_group": f"sg{n % groups}",
               "consumer": "bench.benchapp.consumers.IteratingReader"} for n in range(topics)]
    overrides = {"CLIENT_ID": f"idle-{uuid.uuid4().hex[:6]}", "ROUTES": routes}
    port = free_port()
    process = bench.server_process(overrides, ["--metrics-port", str(port)])
    try:
        wait_for(lambda: partitions_owned(port) == topics * partitions, 90, f"{topics * partitions} partitions assigned")
        time.sleep(SETTLE_S)
        watched = psutil.Process(process.pid)
        before, started = watched.cpu_times(), time.monotonic()
        time.sleep(IDLE_SECONDS)  # the measurement window itself: idle CPU is a rate over time
        after, elapsed = watched.cpu_times(), time.monotonic() - started
        live = measure(process.pid, bench.broker.ports)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)
    info = subprocess.run([sys.executable, str(ROOT / "manage.py"), "karafka_info", "--format", "json", "--no-producer",
                           "--metrics"],
                          cwd=ROOT, capture_output=True, text=True, check=True,
                          env={**os.environ, "KARAFKA_BENCH_OVERRIDES": json.dumps(overrides)})
    estimate = json.loads(info.stdout)["resources"]
    matches = (abs(live.threads - estimate["threads_per_process"]) <= 1
               and live.tcp_connections == estimate["tcp_connections_per_process"]
               and live.rss_bytes <= estimate["peak_memory_bytes_per_process"])
    cpu = (after.user + after.system - before.user - before.system) / elapsed * 100
    return {"partitions": topics * partitions, "cpu_percent": round(cpu, 2), "rss_mb": round(live.rss_bytes / 2**20, 1),
            "threads": [live.threads, estimate["threads_per_process"]],
            "tcp": [live.tcp_connections, estimate["tcp_connections_per_process"]], "estimates_match": matches}
