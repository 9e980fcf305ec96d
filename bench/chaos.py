"""A seeded fault campaign against the delivery promises (``./bench/run chaos``).

    ./bench/run chaos [--minutes N] [--seed S] [--mode M] [--protocol P]

A three-node Apache Kafka cluster (replication factor 3, ``min.insync.replicas`` 2), a steady
producer with ``acks=all`` that records every offset the brokers acknowledged, two
``karafka_server`` processes in one group writing each message they process to PostgreSQL
(``benchapp.Arrival``: partition, offset, which process, when), and a nemesis that draws a fault
every few seconds from a ``random.Random(seed)``: a broker paused (SIGSTOP, a long GC pause) and
resumed, killed (SIGKILL) and restarted with its data, or shut down and restarted; a server
killed, stopped (SIGTERM) and started again, or frozen past its session timeout; the group's
coordinator killed right before a server stops. The seed is printed first; the same seed draws
the same schedule (the faults and their order, targets and durations; what the cluster does in
between is the cluster's).

When the time is up every fault is healed, the feed stops, and the checkers read what the
servers wrote, never what they logged:

- **lost**: acknowledged offsets never processed (must be 0);
- **out of order**: per partition, an offset processed for the first time after a higher one;
- **duplicates**: processings past the first (0 with ``--mode database``);
- **commits moved back**: the group's committed offsets, read twice a second throughout, went
  down (must be 0: an older commit landing after a newer one, as librdkafka replays one deferred
  at a coordinator change, is what makes a clean exit's commit not hold; offsets in Kafka only);
- **drain**: seconds from the heal until every acknowledged message was processed.

Modes: ``at_least_once`` (offsets in Kafka) and ``database`` (``offset_storage: "database"``).
Protocols: ``eager`` (classic, range), ``cooperative`` (classic, cooperative-sticky) and
``kip848`` (the consumer protocol).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS, SERVERS, RATE = 6, 2, 200
SESSION_TIMEOUT_MS = 6000
MODES = {"at_least_once": {}, "database": {"offset_storage": "database"}}
PROTOCOLS = {
    "eager": {"partition.assignment.strategy": "range", "session.timeout.ms": SESSION_TIMEOUT_MS},
    "cooperative": {"partition.assignment.strategy": "cooperative-sticky", "session.timeout.ms": SESSION_TIMEOUT_MS},
    "kip848": {"group.protocol": "consumer", "session.timeout.ms": None},  # the broker holds it (KIP-848)
}
FAULTS = ("broker_pause", "broker_kill", "broker_restart", "server_kill", "server_stop", "server_freeze",
          "coordinator_kill_then_stop")
#: Seconds between two faults, drawn from this range.
BETWEEN_S = (3.0, 8.0)
#: How long the campaign waits for every acknowledged message after the heal.
DRAIN_TIMEOUT_S = 180


def say(text: str) -> None:
    print(text, flush=True)


class Feed(threading.Thread):
    """RATE messages/s over the partitions with ``acks=all``; what the brokers acknowledged."""

    def __init__(self, bootstrap_servers: str, topic: str):
        super().__init__(daemon=True)
        self.producer = Producer({"bootstrap.servers": bootstrap_servers, "acks": "all", "linger.ms": 5,
                                  "enable.idempotence": True, "message.timeout.ms": 120_000})
        self.topic = topic
        self.acknowledged: set[tuple[int, int]] = set()
        self.stopped = threading.Event()

    def run(self) -> None:
        sent, started = 0, time.perf_counter()
        while not self.stopped.is_set():
            delay = started + sent / RATE - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                self.producer.produce(self.topic, b"{}", partition=sent % PARTITIONS, on_delivery=self._delivered)
                sent += 1
            except BufferError:
                pass
            self.producer.poll(0)
        self.producer.flush(120)

    def _delivered(self, error: Any, message: Any) -> None:
        if error is None:
            self.acknowledged.add((message.partition(), message.offset()))


class CommitWatch(threading.Thread):
    """Reads the group's committed offsets twice a second; counts every one that went down."""

    def __init__(self, bootstrap_servers: str, group: str, topic: str):
        super().__init__(daemon=True)
        from confluent_kafka import Consumer

        self.reader = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": group})
        self.topic, self.highest, self.moved_back = topic, {}, []
        self.stopped = threading.Event()

    def run(self) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        while not self.stopped.wait(0.5):
            try:
                offsets = self.reader.committed([TopicPartition(self.topic, p) for p in range(PARTITIONS)], timeout=5)
            except KafkaException:
                continue  # no coordinator answers now (a fault): read again next turn
            for tp in offsets:
                if tp.offset >= 0 and tp.offset < self.highest.get(tp.partition, -1):
                    self.moved_back.append((tp.partition, self.highest[tp.partition], tp.offset))
                    say(f"  !! committed offset of partition {tp.partition} moved back {self.highest[tp.partition]} -> {tp.offset}")
                self.highest[tp.partition] = max(tp.offset, self.highest.get(tp.partition, -1))
        self.reader.close()


class Server:
    """One ``karafka_server`` process of the group; started again in place after a fault."""

    def __init__(self, index: int, overrides: dict, env: dict[str, str], logs: Path):
        self.index, self.overrides, self.env, self.logs = index, overrides, env, logs
        self.process: subprocess.Popen | None = None
        self.exits: list[tuple[int, int]] = []  # (pid, exit code) of every process it ran

    def start(self) -> None:
        import json

        with open(self.logs / f"server-{self.index}-{len(self.exits)}.log", "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), "karafka_server"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                env={**self.env, "KARAFKA_BENCH_OVERRIDES": json.dumps(self.overrides)}, start_new_session=True)

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signum)

    def ended(self, timeout: float) -> int | None:
        """Wait for the process to end (None if it did not); remember its exit code."""
        assert self.process is not None
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.exits.append((self.process.pid, code))
        return code

    def stop(self, timeout: float = 90) -> int | None:
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        code = self.ended(timeout)
        if code is None:
            self.signal(signal.SIGKILL)
            self.ended(30)
        return code


class Nemesis:
    """Draws and applies faults from the seed; every fault heals before the next is drawn."""

    def __init__(self, rng: random.Random, cluster: Any, servers: list[Server], group: str):
        self.rng, self.cluster, self.servers, self.group = rng, cluster, servers, group
        self.applied: Counter[str] = Counter()

    def run(self, until: float) -> None:
        while time.monotonic() < until:
            time.sleep(self.rng.uniform(*BETWEEN_S))
            fault = self.rng.choice(FAULTS)
            say(f"  {time.strftime('%H:%M:%S', time.gmtime())} {fault}")
            getattr(self, fault)()
            self.applied[fault] += 1

    def _node(self) -> int:
        return self.rng.choice(sorted(self.cluster.nodes))

    def _server(self) -> Server:
        return self.rng.choice(self.servers)

    def broker_pause(self) -> None:
        node, pause = self.cluster.nodes[self._node()], self.rng.uniform(2, 10)
        os.kill(node.started.pid, signal.SIGSTOP)
        time.sleep(pause)
        os.kill(node.started.pid, signal.SIGCONT)

    def broker_kill(self) -> None:
        node, down = self._node(), self.rng.uniform(2, 10)
        self.cluster.kill(node)
        time.sleep(down)
        self.cluster.start(node)

    def broker_restart(self) -> None:
        node, down = self._node(), self.rng.uniform(1, 5)
        self.cluster.stop(node)
        time.sleep(down)
        self.cluster.start(node)

    def server_kill(self) -> None:
        server = self._server()
        server.signal(signal.SIGKILL)
        server.ended(30)
        time.sleep(self.rng.uniform(0, 3))
        server.start()

    def server_stop(self) -> None:
        server = self._server()
        server.stop()
        time.sleep(self.rng.uniform(0, 3))
        server.start()

    def server_freeze(self) -> None:
        server, frozen = self._server(), SESSION_TIMEOUT_MS / 1000 + self.rng.uniform(1, 6)
        server.signal(signal.SIGSTOP)
        time.sleep(frozen)
        server.signal(signal.SIGCONT)

    def coordinator_kill_then_stop(self) -> None:
        server, down = self._server(), self.rng.uniform(2, 8)
        try:
            coordinator = self.cluster.coordinator(self.group)
        except Exception:  # no coordinator answers now: any node
            coordinator = self._node()
        self.cluster.kill(coordinator)
        server.stop()
        time.sleep(down)
        self.cluster.start(coordinator)
        server.start()


def check(rows: list[tuple[int, int, int]], acknowledged: set[tuple[int, int]]) -> dict[str, int]:
    """The checkers, on what the servers wrote: rows of (partition, offset, row id)."""
    first: dict[tuple[int, int], int] = {}
    for partition, offset, row_id in sorted(rows, key=lambda r: r[2]):
        first.setdefault((partition, offset), row_id)
    out_of_order, highest = 0, {}
    for (partition, offset), _ in sorted(first.items(), key=lambda item: item[1]):
        if offset < highest.get(partition, -1):
            out_of_order += 1
        highest[partition] = max(offset, highest.get(partition, -1))
    return {"messages": len(acknowledged), "lost": len(acknowledged - set(first)), "out_of_order": out_of_order,
            "duplicates": len(rows) - len(first)}


def campaign(minutes: float, seed: int, mode: str, protocol: str) -> dict[str, Any]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    sys.path.insert(0, str(ROOT))
    django.setup()
    from bench.bench import prepare_database
    from bench.benchapp.models import Arrival
    from karafka_django.brokers.kafka import KafkaCluster

    say(f"chaos: seed {seed}, mode {mode}, protocol {protocol}, {minutes} min")
    prepare_database()
    rng, run = random.Random(seed), f"chaos-{uuid.uuid4().hex[:8]}"
    logs = Path(tempfile.mkdtemp(prefix=f"{run}-"))
    with KafkaCluster(brokers=3, data_dir=logs / "cluster") as cluster:
        topic = f"chaos-{uuid.uuid4().hex[:6]}"
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap_servers})
        admin.create_topics([NewTopic(topic, PARTITIONS, 3, config={"min.insync.replicas": "2"})])[topic].result(30)
        route = {"topic": topic, "consumer": "bench.benchapp.consumers.ChaosRecorder", **MODES[mode]}
        overrides = {"CLIENT_ID": run, "CONCURRENCY": 3, "SHUTDOWN_TIMEOUT_MS": 30_000,
                     "KAFKA": {**PROTOCOLS[protocol], "auto.commit.interval.ms": 500}, "ROUTES": [route]}
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap_servers, "CHAOS_RUN": run}
        servers = [Server(i, overrides, env, logs) for i in range(SERVERS)]
        feed, watch = Feed(cluster.bootstrap_servers, topic), CommitWatch(cluster.bootstrap_servers, run, topic)
        feed.start()
        watch.start()
        for server in servers:
            server.start()
        nemesis = Nemesis(rng, cluster, servers, run)
        try:
            nemesis.run(time.monotonic() + minutes * 60)
            cluster.start()  # heal: every node up, every server running
            for server in servers:
                server.signal(signal.SIGCONT)
                if server.process is None or server.process.poll() is not None:
                    server.ended(0)
                    server.start()
            healed = time.monotonic()
            feed.stopped.set()
            feed.join(150)
            processed = lambda: set(Arrival.objects.filter(run__startswith=run).values_list("partition", "offset"))  # noqa: E731
            while not feed.acknowledged <= processed() and time.monotonic() - healed < DRAIN_TIMEOUT_S:
                time.sleep(1)
            drain_s = time.monotonic() - healed
        finally:
            feed.stopped.set()
            for server in servers:
                server.stop()
            watch.stopped.set()
            watch.join(10)
    rows = list(Arrival.objects.filter(run__startswith=run).values_list("partition", "offset", "id"))
    codes = Counter(code for server in servers for _pid, code in server.exits)
    return {"seed": seed, "mode": mode, "protocol": protocol, "minutes": minutes, "faults": dict(nemesis.applied),
            **check(rows, feed.acknowledged), "commits_moved_back": len(watch.moved_back), "drain_s": round(drain_s, 1),
            "exit_codes": dict(codes), "logs": str(logs)}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="./bench/run chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=None, help="the schedule's seed (a random one is printed otherwise)")
    parser.add_argument("--mode", choices=sorted(MODES), action="append", help="repeatable; every mode by default")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), action="append", help="repeatable; every protocol by default")
    options = parser.parse_args(argv)
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(1 << 31)
    say(f"seed: {seed}")
    results = [campaign(options.minutes, seed, mode, protocol)
               for mode in options.mode or sorted(MODES) for protocol in options.protocol or sorted(PROTOCOLS)]
    say("\n| mode | protocol | minutes | faults | messages | lost | out of order | duplicates | commits moved back "
        "| drain s | exit codes | seed |")
    say("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(r["faults"].items()))
        say(f"| {r['mode']} | {r['protocol']} | {r['minutes']} | {faults} | {r['messages']} | {r['lost']} | {r['out_of_order']} "
            f"| {r['duplicates']} | {r['commits_moved_back']} | {r['drain_s']} | {r['exit_codes']} | {r['seed']} |")
    broken = [r for r in results if r["lost"] or r["out_of_order"] or (r["mode"] == "at_least_once" and r["commits_moved_back"])
              or (r["mode"] == "database" and r["duplicates"]) or r["drain_s"] >= DRAIN_TIMEOUT_S]
    for r in broken:
        say(f"!! a promise broke: {r['mode']}/{r['protocol']} seed {r['seed']} (logs: {r['logs']})")
    sys.exit(1 if broken else 0)
