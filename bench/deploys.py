"""Rolling deploys under each consumer group protocol (``./bench/run deploys``).

Three ``karafka_server`` processes consume a 12-partition topic fed at a steady rate; they are
restarted one at a time as a rolling deploy does (SIGTERM, wait for the exit, start the new
one, wait until its ``/healthz`` shows partitions). Every processed message is written with
the time it was processed (``benchapp.Arrival``), so per partition the consumption gaps are
measured where the deploy caused them: the longest gap of any partition, the partition-seconds
spent in gaps longer than ``STALL_S``, duplicates and losses. Classic eager, classic
cooperative-sticky and the consumer protocol (KIP-848) run the same deploy.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import threading
import time
import urllib.request
import uuid
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from confluent_kafka import Producer

from karafka_django.brokers import free_port

if TYPE_CHECKING:
    from bench.bench import Bench

PARTITIONS, SERVERS = 12, 3
RATE = 240  # messages/s: 20 per partition, one every 50 ms
STALL_S = 1.0  # a partition that processed nothing for this long (20 messages due) is stalled
SETTLE_S = 5.0  # steady consumption before the deploy starts and after it ends
ROUNDS = 3  # a deploy's figures move from round to round on this 2-core machine
PROTOCOLS = {
    "classic eager": {"partition.assignment.strategy": "range"},
    "classic cooperative-sticky": {"partition.assignment.strategy": "cooperative-sticky"},
    "consumer (KIP-848)": {"group.protocol": "consumer", "session.timeout.ms": None},
}


def partitions_owned(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return int(json.loads(response.read()).get("partitions", 0))
    except (OSError, ValueError):
        return 0


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Feed(threading.Thread):
    """Produces RATE messages/s round-robin over the partitions until stopped; counts per partition."""

    def __init__(self, bootstrap_servers: str, topic: str):
        super().__init__(daemon=True)
        self.producer = Producer({"bootstrap.servers": bootstrap_servers, "linger.ms": 5})
        self.topic, self.sent = topic, 0
        self.stopped = threading.Event()

    def run(self) -> None:
        started = time.perf_counter()
        while not self.stopped.is_set():
            delay = started + self.sent / RATE - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            self.producer.produce(self.topic, b"{}", partition=self.sent % PARTITIONS)
            self.producer.poll(0)
            self.sent += 1
        self.producer.flush(30)


def rolling_deploy(bench: Bench, protocol: str) -> dict[str, Any]:
    from bench.benchapp.models import Arrival

    run = f"deploy-{uuid.uuid4().hex[:8]}"
    topic = bench.topic("deploys", PARTITIONS, 0)
    overrides = {"CLIENT_ID": run, "CONCURRENCY": 4, "KAFKA": PROTOCOLS[protocol],
                 "ROUTES": [{"topic": topic, "consumer": "bench.benchapp.consumers.Arrivals"}]}

    def start() -> tuple[subprocess.Popen, int]:
        port = free_port()
        return bench.server_process(overrides, ["--metrics-port", str(port)]), port

    feed = Feed(bench.broker.bootstrap_servers, topic)
    servers = [start() for _ in range(SERVERS)]
    feed.start()
    try:
        wait_for(lambda: sum(partitions_owned(port) for _, port in servers) == PARTITIONS, 90, "the group formed")
        time.sleep(SETTLE_S)  # steady consumption, part of the measured window
        deploy_started = time.time()
        for index, (process, _port) in enumerate(list(servers)):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(90)
            servers[index] = start()
            wait_for(lambda port=servers[index][1]: partitions_owned(port) > 0, 90, "the new server consuming")
        deploy_s = time.time() - deploy_started
        time.sleep(SETTLE_S)
        feed.stopped.set()
        feed.join(60)
        wait_for(lambda: Arrival.objects.filter(run=run).values("partition", "offset").distinct().count() >= feed.sent, 90,
              "every message processed")
    finally:
        feed.stopped.set()
        for process, _port in servers:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(90)
    return {**_gaps(Arrival.objects.filter(run=run).values_list("partition", "offset", "at"), feed.sent),
            "deploy_s": round(deploy_s, 1)}


def _gaps(arrivals: Any, sent: int) -> dict[str, Any]:
    """Per partition, the gaps between the times its messages were first processed."""
    first: dict[tuple[int, int], float] = {}
    total = 0
    for partition, offset, at in arrivals:
        total += 1
        first[partition, offset] = min(at, first.get((partition, offset), at))
    times: dict[int, list[float]] = defaultdict(list)
    for (partition, _offset), at in first.items():
        times[partition].append(at)
    gaps = [later - earlier for series in times.values() for earlier, later in zip(sorted(series), sorted(series)[1:])]
    return {"longest_gap_s": round(max(gaps, default=0.0), 2),
            "stalled_partition_s": round(sum(gap for gap in gaps if gap > STALL_S), 1),
            "duplicates": total - len(first), "lost": sent - len(first)}


def deploys(bench: Bench) -> dict[str, Any]:
    """ROUNDS deploys per protocol, alternated: the medians of the gaps, the worst of duplicates and losses."""
    rounds: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _ in range(ROUNDS):
        for protocol in PROTOCOLS:
            rounds[protocol].append(rolling_deploy(bench, protocol))
    return {protocol: {"longest_gap_s": statistics.median(r["longest_gap_s"] for r in runs),
                       "stalled_partition_s": statistics.median(r["stalled_partition_s"] for r in runs),
                       "stalled_rounds": [r["stalled_partition_s"] for r in runs],
                       "duplicates": max(r["duplicates"] for r in runs), "lost": max(r["lost"] for r in runs),
                       "deploy_s": statistics.median(r["deploy_s"] for r in runs)}
            for protocol, runs in rounds.items()}
