"""karafka_django beside its Python peers: ``./bench/peers/run [--rounds 3] [--peers a,b]``.

One Apache Kafka broker, one PostgreSQL; every peer's driver (a module of this package) runs as
its own process over the same topics: a CPU-free pass (touch each message) and JSON-decode plus a
PostgreSQL write, alternating peers within each round (medians over rounds); then, one peer at a
time, an idle consumer's RSS, threads and TCP connections, and the end-to-end latency of 20 msg/s
(producer timestamp to the handler). Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from confluent_kafka import Producer, libversion  # noqa: E402

from bench.bench import Bench, percentiles  # noqa: E402
from bench.per_message import PAYLOAD  # noqa: E402
from karafka_django.brokers import make_broker  # noqa: E402
from karafka_django.instrumentation.resources import measure  # noqa: E402

#: Label, driver module, distribution (for its version).
PEERS = [
    ("raw confluent-kafka", "raw_loop", "confluent-kafka"),
    ("karafka_django", "karafka_server", "karafka_django"),
    ("quixstreams", "quixstreams_app", "quixstreams"),
    ("faust-streaming", "faust_agent", "faust-streaming"),
    ("django-kafka", "django_kafka_topic", "django-kafka"),
    ("sentry-arroyo", "arroyo_strategy", "sentry-arroyo"),
]
WORKS = {"touch": 200_000, "json_pg": 300_000}  # json_pg: long enough for steady state (30,000 varied by a third)
LATENCY_RATE, LATENCY_MESSAGES = 20, 200
#: After the first message: the consumer has joined, fetched and settled before it is measured idle.
IDLE_SETTLE_S = 5
RUN_TIMEOUT_S = 900  # django-kafka writes one row per transaction: 300,000 take minutes


def say(text: str) -> None:
    print(text, flush=True)


class Driver:
    """One peer's driver process; its stdout lines arrive on a queue."""

    def __init__(self, module: str, bootstrap: str, topic: str, total: int, work: str, dsn: str) -> None:
        command = [sys.executable, "-m", f"bench.peers.{module}", "--bootstrap", bootstrap, "--topic", topic,
                   "--group", f"peers-{uuid.uuid4().hex[:8]}", "--total", str(total), "--work", work, "--dsn", dsn]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        start_new_session=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:  # type: ignore[union-attr]
            self.lines.put(line.strip())
        self.lines.put("EXITED")

    def wait_for(self, prefix: str, timeout: float, meanwhile: Any = None) -> str:
        """The first line starting with ``prefix``; ``meanwhile()`` runs every half second until then."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if meanwhile is not None:
                meanwhile()
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if prefix in line:  # faust's worker writes terminal escapes before it
                return line[line.index(prefix):]
            if line == "EXITED":
                raise RuntimeError(f"exited {self.process.wait()}: {self.process.stderr.read()[-600:]}")  # type: ignore[union-attr]
        raise TimeoutError(f"no {prefix} within {timeout:.0f}s")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)


def throughput(bench: Bench, module: str, topic: str, work: str, dsn: str) -> float:
    driver = Driver(module, bench.broker.bootstrap_servers, topic, WORKS[work], work, dsn)
    try:
        result = json.loads(driver.wait_for("RESULT ", RUN_TIMEOUT_S)[7:])
    finally:
        driver.stop()
    return result["count"] / result["seconds"]


def idle_and_latency(bench: Bench, module: str, dsn: str) -> dict[str, Any]:
    """Idle resources once consuming, then producer-to-handler latency at ``LATENCY_RATE``."""
    topic = bench.topic("peers-latency", 3, 0)
    producer = Producer({"bootstrap.servers": bench.broker.bootstrap_servers, "linger.ms": 0})
    driver = Driver(module, bench.broker.bootstrap_servers, topic, LATENCY_MESSAGES, "latency", dsn)
    try:
        driver.wait_for("WARM", 90, meanwhile=lambda: producer.produce(topic, b'{"warm": true}') or producer.flush(5))
        time.sleep(IDLE_SETTLE_S)  # the idle window: what a consuming process holds with nothing to do
        idle = measure(driver.process.pid, bench.broker.ports)
        started = time.perf_counter()
        for n in range(LATENCY_MESSAGES):
            time.sleep(max(0.0, started + n / LATENCY_RATE - time.perf_counter()))
            producer.produce(topic, PAYLOAD, partition=n % 3)
            producer.poll(0)
        producer.flush(10)
        latencies = json.loads(driver.wait_for("RESULT ", 60)[7:])["latencies_ms"]
    finally:
        driver.stop()
    return {"idle_rss_mb": round(idle.rss_bytes / 2**20, 1), "threads": idle.threads, "tcp_to_brokers": idle.tcp_connections,
            "latency_ms": percentiles(latencies)}


def prepare_table(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS peer_rows "
                           "(id bigserial PRIMARY KEY, peer text, part int, off bigint, customer text)")
        connection.execute("TRUNCATE peer_rows")


def database(url: str) -> str:
    """The benchmark's own database on the PostgreSQL of ``url`` (created when missing)."""
    import psycopg

    server, name = url.rsplit("/", 1)[0], "karafka_peers"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            connection.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


def versions() -> dict[str, str]:
    found = {"python": platform.python_version(), "librdkafka": libversion()[0]}
    for _, _, distribution in PEERS:
        try:
            found[distribution] = version(distribution)
        except PackageNotFoundError:
            found[distribution] = "not installed"
    return found


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peers", default=",".join(label for label, _, _ in PEERS), help="comma-separated labels")
    options = parser.parse_args(argv)
    peers = [(label, module) for label, module, _ in PEERS if label in options.peers.split(",")]
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:55432/karafka_bench")
    dsn = database(url.replace("postgres://", "postgresql://", 1))
    prepare_table(dsn)
    rates: dict[str, dict[str, list[float]]] = {label: {work: [] for work in WORKS} for label, _ in peers}
    failures: dict[str, str] = {}
    with make_broker("kafka") as broker:
        bench = Bench(broker)
        topics = {work: bench.topic(f"peers-{work}", 6, total, payload=PAYLOAD) for work, total in WORKS.items()}
        for round_number in range(options.rounds):
            shift = round_number % len(peers)
            for label, module in peers[shift:] + peers[:shift]:
                for work in WORKS:
                    if label in failures:
                        continue
                    try:
                        rates[label][work].append(throughput(bench, module, topics[work], work, dsn))
                        say(f"  round {round_number + 1} {label} {work}: {rates[label][work][-1]:,.0f} msg/s")
                    except (RuntimeError, TimeoutError) as exc:
                        failures[label] = f"{work}: {exc}"
                        say(f"  {label} failed: {failures[label]}")
        resources = {}
        for label, module in peers:
            if label in failures:
                continue
            try:
                resources[label] = idle_and_latency(bench, module, dsn)
                say(f"  {label}: {resources[label]}")
            except (RuntimeError, TimeoutError) as exc:
                failures[label] = f"latency: {exc}"
    report(peers, rates, resources, failures)


def report(peers: list[tuple[str, str]], rates: dict, resources: dict, failures: dict[str, str]) -> None:
    ran_raw = "raw confluent-kafka" in rates and "raw confluent-kafka" not in failures
    raw = {work: statistics.median(rates["raw confluent-kafka"][work]) for work in WORKS} if ran_raw else {}
    say("\n| peer | touch msg/s (x raw) | JSON + PostgreSQL msg/s (x raw) | p50 / p99 ms at 20 msg/s | idle RSS MB | threads "
        "| TCP to broker |")
    say("| --- | --- | --- | --- | --- | --- | --- |")
    figures: dict[str, Any] = {}
    for label, _ in peers:
        if label in failures:
            say(f"| {label} | failed: {failures[label][:120]} | | | | | |")
            figures[label] = {"failed": failures[label]}
            continue
        medians = {work: statistics.median(rates[label][work]) for work in WORKS}
        cells = [f"{medians[w]:,.0f} ({medians[w] / raw[w]:.2f})" if raw else f"{medians[w]:,.0f}" for w in WORKS]
        res = resources[label]
        say(f"| {label} | {cells[0]} | {cells[1]} | {res['latency_ms']['p50']} / {res['latency_ms']['p99']} | "
            f"{res['idle_rss_mb']} | {res['threads']} | {res['tcp_to_brokers']} |")
        figures[label] = {"msgs_per_s": {w: round(m) for w, m in medians.items()},
                          "rounds": {w: [round(r) for r in rates[label][w]] for w in WORKS}, **res}
    say(json.dumps({"peers": figures, "versions": versions(), "works": WORKS, "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main(sys.argv[1:])
