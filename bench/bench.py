"""Benchmarks: karafka_django against raw confluent-kafka, side by side in one run, one broker.

    ./bench/run                      # every benchmark
    ./bench/run chaos --minutes 5    # the seeded fault campaign (bench/chaos.py has its options)
    ./bench/run overhead json        # some of them (latency overhead json orm exactly_once cpu memory shutdown
                                     # big_messages deploys transactions per_message scale workload)

Each prints a line as it finishes, then a table and one JSON line with every figure. Runs
start their own Tansu broker; the ORM run uses the PostgreSQL that scripts/postgres.sh starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from bench.deploys import deploys  # noqa: E402
from bench.per_message import per_message, scale  # noqa: E402
from bench.transactions import transactions  # noqa: E402
from bench.workload import workload  # noqa: E402
from karafka_django.brokers import Broker, make_broker  # noqa: E402

CONSUMERS = "bench.benchapp.consumers"
FAST_FETCH = {"fetch.queue.backoff.ms": 10}
#: How long an idle process runs before its RSS is read: started, joined, its clients settled.
IDLE_AFTER_S = 8
#: Rounds of the side-by-side runs: this 2-core machine's figures vary by a fifth run to run.
ROUNDS = 5


def say(text: str) -> None:
    print(text, flush=True)


class Bench:
    def __init__(self, broker: Broker):
        self.broker = broker
        self.admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})

    # -- helpers ---------------------------------------------------------------------------------

    def topic(self, name: str, partitions: int, count: int, payload: bytes = b'{"id": 1, "name": "bench"}') -> str:
        topic = f"{name}-{uuid.uuid4().hex[:6]}"
        for future in self.admin.create_topics([NewTopic(topic, partitions, 1)]).values():
            future.result(15)
        deadline = time.monotonic() + 30  # the controller acknowledged it; brokers learn it shortly after
        while not self._led(topic, partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: not every partition has a leader after 30 s")
            time.sleep(0.1)
        self.fill(topic, partitions, count, payload)
        return topic

    def _led(self, topic: str, partitions: int) -> bool:
        metadata = self.admin.list_topics(topic, timeout=10).topics.get(topic)
        return (metadata is not None and metadata.error is None and len(metadata.partitions) == partitions
                and all(p.leader >= 0 for p in metadata.partitions.values()))

    def fill(self, topic: str, partitions: int, count: int, payload: bytes) -> None:
        producer = Producer({"bootstrap.servers": self.broker.bootstrap_servers, "linger.ms": 50,
                             "batch.num.messages": 10000, "queue.buffering.max.messages": 1000000})
        started = time.perf_counter()
        for n in range(count):
            while True:
                try:
                    producer.produce(topic, payload, partition=n % partitions)
                    break
                except BufferError:
                    producer.poll(0.05)
            if n % 100000 == 99999:
                say(f"  produced {n + 1:,} to {topic}")
        producer.flush(120)
        say(f"  {count:,} messages in {time.perf_counter() - started:.1f}s")

    def raw_rate(self, topic: str, total: int, parse_json: bool = False, loads: Callable[[bytes], Any] = json.loads) -> float:
        """Messages/s of a plain consume(1000) loop reading offset and value (and ``loads`` of it)."""
        consumer = Consumer({"bootstrap.servers": self.broker.bootstrap_servers, "group.id": f"raw-{uuid.uuid4().hex}",
                             "auto.offset.reset": "earliest", "session.timeout.ms": 6000, **FAST_FETCH})
        consumer.subscribe([topic])
        seen, first, last = 0, 0.0, 0.0
        try:
            while seen < total:
                batch = consumer.consume(1000, 0.5)
                for message in batch:
                    message.offset()
                    value = message.value()
                    if parse_json:
                        loads(value)
                if batch:
                    now = time.perf_counter()
                    first, last, seen = first or now, now, seen + len(batch)
        finally:
            consumer.close()
        return seen / (last - first)

    def framework_rate(self, consumer: str, topic: str, total: int, concurrency: int | None, max_messages: int | None,
                       **route_options: Any) -> float:
        """Messages/s of an in-process karafka_server run, from the first batch to the last
        (``None``: the setting's default)."""
        from django.test import override_settings

        from bench.benchapp.consumers import Tally
        from karafka_django.loading import load_or_fail
        from karafka_django.runtime.server import Server

        karafka = {**self.karafka(), "CLIENT_ID": f"fw-{uuid.uuid4().hex[:8]}",
                   "ROUTES": [{"topic": topic, "consumer": f"{CONSUMERS}.{consumer}", **route_options}]}
        karafka |= {key: value for key, value in (("CONCURRENCY", concurrency), ("MAX_MESSAGES", max_messages))
                    if value is not None}
        Tally.reset()
        with override_settings(KARAFKA=karafka):
            config, routing = load_or_fail()
            server = Server(config, routing.select())

            def stop_when_done() -> None:
                while Tally.count < total:
                    time.sleep(0.01)
                server.stop()

            threading.Thread(target=stop_when_done, daemon=True).start()
            server.run()
        return Tally.count / (Tally.last - Tally.first)

    def karafka(self) -> dict[str, Any]:
        from django.conf import settings

        return {**settings.KARAFKA, "KAFKA": {**settings.KARAFKA["KAFKA"], "bootstrap.servers": self.broker.bootstrap_servers}}

    def server_process(self, overrides: dict, args: list[str] = (), env: dict[str, str] | None = None) -> subprocess.Popen:
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
               "KARAFKA_BENCH_OVERRIDES": json.dumps(overrides), **(env or {})}
        return subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "karafka_server", *args], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def committed_total(self, group: str, topic: str, partitions: int) -> int:
        consumer = Consumer({"bootstrap.servers": self.broker.bootstrap_servers, "group.id": group})
        try:
            offsets = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
            return sum(max(tp.offset, 0) for tp in offsets)
        finally:
            consumer.close()

    def process_rate(self, topic: str, partitions: int, total: int, consumer: str, args: list[str] = ()) -> float:
        """Messages/s of a karafka_server process between 10% and 90% committed (join time excluded)."""
        group = f"proc-{uuid.uuid4().hex[:8]}"
        process = self.server_process({"CLIENT_ID": group, "ROUTES": [{"topic": topic, "consumer": f"{CONSUMERS}.{consumer}"}]}, list(args))
        marks: dict[float, float] = {}
        try:
            while 0.9 not in marks:
                done = self.committed_total(group, topic, partitions) / total
                for mark in (0.1, 0.9):
                    if done >= mark and mark not in marks:
                        marks[mark] = time.perf_counter()
                time.sleep(0.05)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(60)
        return 0.8 * total / (marks[0.9] - marks[0.1])

    # -- the benchmarks --------------------------------------------------------------------------

    def side_by_side(self, consumer: str, topic: str, total: int, parse_json: bool, goal: float, rounds: int = ROUNDS,
                     concurrency: int = 5, same_loader: Callable[[bytes], Any] | None = None) -> dict[str, Any]:
        """Raw and framework runs alternated ``rounds`` times over the same messages; medians and their
        ratio. With ``same_loader``, a third loop parses with it: the framework's own cost, parsing equal."""
        rates: dict[str, list[float]] = {"raw": [], "karafka": [], "same_loader": []}
        for _ in range(rounds):
            rates["raw"].append(self.raw_rate(topic, total, parse_json=parse_json))
            rates["karafka"].append(self.framework_rate(consumer, topic, total, concurrency=concurrency, max_messages=1000))
            if same_loader is not None:
                rates["same_loader"].append(self.raw_rate(topic, total, parse_json=True, loads=same_loader))
        raw, karafka = statistics.median(rates["raw"]), statistics.median(rates["karafka"])
        figures = {"raw_msgs_per_s": round(raw), "karafka_msgs_per_s": round(karafka), "ratio": round(karafka / raw, 3),
                   "ratios_per_round": [round(f / r, 2) for f, r in zip(rates["karafka"], rates["raw"])]}
        if same_loader is not None:
            same = statistics.median(rates["same_loader"])
            figures |= {"raw_same_loader_msgs_per_s": round(same), "ratio_to_same_loader": round(karafka / same, 3)}
        return figures | {"goal": f">= {goal}", "goal_met": karafka / raw >= goal}

    def latency(self) -> dict[str, Any]:
        """Producer timestamp to the consumer's hands, at a low and a high rate: a raw ``poll()``
        loop and karafka_server side by side on the same broker, same tuning, same producer."""
        figures: dict[str, Any] = {}
        for label, rate, seconds in (("low", 20, 10), ("high", 5000, 4)):
            raw = percentiles(self.raw_latencies(rate, seconds))
            framework = percentiles(self.framework_latencies(rate, seconds))
            figures |= {f"{label}_{rate}_per_s_raw_ms": raw, f"{label}_{rate}_per_s_karafka_ms": framework}
        raw, framework = figures["low_20_per_s_raw_ms"], figures["low_20_per_s_karafka_ms"]
        limits = {"p50": 1.25 * raw["p50"] + 25, "p99": 1.25 * raw["p99"] + 50}
        return figures | {"goal": "at 20/s: p50 <= 1.25 x raw + 25 ms, p99 <= 1.25 x raw + 50 ms",
                          "limits_ms": {k: round(v, 1) for k, v in limits.items()},
                          "goal_met": all(framework[k] <= limits[k] for k in limits)}

    def produce_paced(self, topic: str, rate: int, seconds: float) -> None:
        """``rate`` messages/s for ``seconds`` over 3 partitions, sent as they are due."""
        producer = Producer({"bootstrap.servers": self.broker.bootstrap_servers, "linger.ms": 0 if rate < 100 else 5})
        started = time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            producer.produce(topic, b"{}", partition=i % 3)
            producer.poll(0)
        producer.flush(30)

    def raw_latencies(self, rate: int, seconds: float) -> list[float]:
        topic, expected = self.topic("latency-raw", 3, 0), int(rate * seconds)
        consumer = Consumer({"bootstrap.servers": self.broker.bootstrap_servers, "group.id": f"raw-{uuid.uuid4().hex}",
                             "auto.offset.reset": "earliest", "session.timeout.ms": 6000, **FAST_FETCH})
        consumer.subscribe([topic])
        while not consumer.assignment():
            consumer.poll(0.1)
        latencies: list[float] = []
        producing = threading.Thread(target=self.produce_paced, args=(topic, rate, seconds))
        producing.start()
        try:
            while len(latencies) < expected:
                message = consumer.poll(1.0)
                if message is not None and message.error() is None:
                    latencies.append(time.time() * 1000 - message.timestamp()[1])
        finally:
            producing.join()
            consumer.close()
        return latencies

    def framework_latencies(self, rate: int, seconds: float) -> list[float]:
        from django.test import override_settings

        from bench.benchapp.consumers import LatencyRecorder
        from karafka_django.loading import load_or_fail
        from karafka_django.runtime.server import Server

        topic, expected = self.topic("latency-karafka", 3, 0), int(rate * seconds)
        karafka = {**self.karafka(), "CLIENT_ID": f"fw-{uuid.uuid4().hex[:8]}",
                   "ROUTES": [{"topic": topic, "consumer": f"{CONSUMERS}.LatencyRecorder"}]}
        LatencyRecorder.latencies = []
        with override_settings(KARAFKA=karafka):
            config, routing = load_or_fail()
            server = Server(config, routing.select())

            def produce_then_stop() -> None:
                while not any(listener.coordinators for listener in server.listeners):
                    time.sleep(0.05)  # joined and assigned
                self.produce_paced(topic, rate, seconds)
                while len(LatencyRecorder.latencies) < expected:
                    time.sleep(0.05)
                server.stop()

            threading.Thread(target=produce_then_stop, daemon=True).start()
            server.run()
        return LatencyRecorder.latencies

    def overhead(self) -> dict[str, Any]:
        total = 500_000
        return self.side_by_side("RawReader", self.topic("overhead", 6, total), total, parse_json=False, goal=0.8)

    def json(self) -> dict[str, Any]:
        total = 300_000
        topic = self.topic("json", 6, total)
        figures = self.side_by_side("JsonReader", topic, total, parse_json=True, goal=0.9)
        with_orjson = self.framework_rate("JsonReader", topic, total, concurrency=5, max_messages=1000,
                                          deserializer="karafka_django.deserializers.orjson_deserializer")
        return figures | {"karafka_orjson_msgs_per_s": round(with_orjson),
                          "orjson_ratio_to_raw_json": round(with_orjson / figures["raw_msgs_per_s"], 3)}

    def orm(self) -> dict[str, Any]:
        total = 12_000
        topic = self.topic("orm", 6, total)
        rates = {c: self.framework_rate("OrmWriter", topic, total, concurrency=c, max_messages=100) for c in (1, 2, 4, 8)}
        return {f"concurrency_{c}_msgs_per_s": round(r) for c, r in rates.items()} | {
            f"speedup_{c}": round(r / rates[1], 2) for c, r in rates.items()} | {"goal": "near-linear up to 6 partitions"}

    def exactly_once(self) -> dict[str, Any]:
        """An ORM-writing consumer (one bulk insert per batch) with its offsets stored in the
        database (one more row write per batch, in the batch's transaction) against Kafka's."""
        total = 12_000
        rates: dict[str, list[float]] = {"kafka": [], "database": []}
        for _ in range(ROUNDS):
            for storage in rates:
                topic = self.topic("exactly-once", 6, total)
                rates[storage].append(self.framework_rate("RowWriter", topic, total, concurrency=4, max_messages=100,
                                                          offset_storage=storage))
        kafka, database = (statistics.median(rates[s]) for s in ("kafka", "database"))
        return {"kafka_offsets_msgs_per_s": round(kafka), "database_offsets_msgs_per_s": round(database),
                "database_vs_kafka": round(database / kafka, 2), "rounds": ROUNDS}

    def cpu(self) -> dict[str, Any]:
        total = 60_000
        topic = self.topic("cpu", 6, total, payload=b"x" * 64)
        single = self.process_rate(topic, 6, total, "CpuBurner")
        swarm = self.process_rate(topic, 6, total, "CpuBurner", ["--swarm", "2"])
        return {"single_msgs_per_s": round(single), "swarm_2_msgs_per_s": round(swarm), "ratio": round(swarm / single, 2),
                "cores": os.cpu_count(), "goal": ">= 1.7"}

    def memory(self) -> dict[str, Any]:
        """Idle RSS of a started server with one route, on PostgreSQL and on SQLite (the embedded
        default), beside the floor measured in the same run: the same project set up without
        karafka_django and one idle raw Consumer. Then RSS growth over a 1,000,000-message soak."""
        import psutil

        idle_topic = self.topic("idle", 6, 0)
        sqlite = {"DATABASE_URL": f"sqlite:///{Path(tempfile.mkdtemp())}/bench.sqlite3"}
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], cwd=ROOT, check=True,
                       env={**os.environ, **sqlite})
        idle: dict[str, float] = {}
        for database, env in (("postgresql", {}), ("sqlite", sqlite)):
            process = self.server_process({"CLIENT_ID": f"idle-{uuid.uuid4().hex[:6]}",
                                           "ROUTES": [{"topic": idle_topic, "consumer": f"{CONSUMERS}.RawReader"}]},
                                          env=env)
            time.sleep(IDLE_AFTER_S)  # started and joined
            idle[database] = round(psutil.Process(process.pid).memory_info().rss / 2**20, 1)
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(60)
        databases = (("postgresql", {}), ("sqlite", sqlite))
        breakdown = {database: self.startup_stages(idle_topic, env, karafka=False) for database, env in databases}
        server_stages = {database: self.startup_stages(idle_topic, env, karafka=True) for database, env in databases}

        total, warm_up = 1_100_000, 100_000
        topic = self.topic("soak", 6, total)
        group = f"soak-{uuid.uuid4().hex[:6]}"
        process = self.server_process({"CLIENT_ID": group, "MAX_MESSAGES": 1000,
                                       "ROUTES": [{"topic": topic, "consumer": f"{CONSUMERS}.RawReader"}]})
        rss = psutil.Process(process.pid)
        while self.committed_total(group, topic, 6) < warm_up:
            time.sleep(0.1)
        after_warm_up = rss.memory_info().rss
        while self.committed_total(group, topic, 6) < total:
            time.sleep(0.2)
        at_end = rss.memory_info().rss
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)
        growth = (at_end - after_warm_up) / 2**20
        floors = {database: stages[-1][1] for database, stages in breakdown.items()}
        return {"idle_rss_mb": idle["postgresql"], "idle_rss_sqlite_mb": idle["sqlite"],
                "floor_rss_mb": floors["postgresql"], "floor_rss_sqlite_mb": floors["sqlite"],
                "karafka_share_mb": round(idle["postgresql"] - floors["postgresql"], 1),
                "karafka_share_sqlite_mb": round(idle["sqlite"] - floors["sqlite"], 1),
                "floor_stages_mb_ms": breakdown, "server_stages_mb_ms": server_stages, "idle_goal_mb": "<= 45",
                "soak_messages": total - warm_up, "rss_growth_mb": round(growth, 1), "growth_goal_mb": "< 10",
                "goal_met": min(idle.values()) <= 45 and growth < 10}

    def startup_stages(self, topic: str, env: dict[str, str], karafka: bool) -> list[tuple[str, float, int]]:
        """RSS (MB) and elapsed time (ms) of a child process at each start-up stage. Without
        ``karafka``: the bench project set up without karafka_django, then one raw Consumer
        subscribed to ``topic`` and idle as long as the server was (the floor: what no Kafka
        consumer in this Django project can go below). With it: the project as the server sets
        it up, then what ``karafka_server`` imports before it starts its clients."""
        code = f"""
import json, os, sys, time
started = time.perf_counter()
stages = []
def mark(name):
    rss = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    stages.append((name, round(rss / 2**20, 1), round((time.perf_counter() - started) * 1000)))
mark("interpreter")
import django
mark("import django")
sys.path.insert(0, {str(ROOT)!r})
import bench.settings as project
from django.conf import settings
values = {{name: getattr(project, name) for name in dir(project) if name.isupper()}}
if not {karafka}:
    values["INSTALLED_APPS"] = [app for app in project.INSTALLED_APPS if app != "karafka_django"]
settings.configure(**values)
django.setup()
if {karafka}:
    mark("django.setup() of the project (karafka_django's app and routing loaded)")
    import karafka_django.management.commands.karafka_server
    mark("+ what karafka_server imports (listener, workers, server, swarm)")
else:
    mark("django.setup() of the project without karafka_django")
    from confluent_kafka import Consumer
    mark("import confluent_kafka")
    consumer = Consumer({{"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2], "session.timeout.ms": 6000}})
    consumer.subscribe([sys.argv[3]])
    deadline = time.monotonic() + {IDLE_AFTER_S}
    while time.monotonic() < deadline:
        consumer.poll(0.2)
    mark("an idle Consumer, {IDLE_AFTER_S} s after subscribing (the floor)")
print(json.dumps(stages))
"""
        done = subprocess.run([sys.executable, "-c", code, self.broker.bootstrap_servers, f"floor-{uuid.uuid4().hex[:6]}",
                               topic], cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, check=True)
        return [tuple(stage) for stage in json.loads(done.stdout.strip().splitlines()[-1])]

    def big_messages(self) -> dict[str, Any]:
        """900 kB messages over 12 partitions behind a slow consumer. What the framework holds
        (its buffers and batches in flight, from /healthz) against its budget, and the process's
        peak RSS against a raw consumer's with the same librdkafka tuning, reading as slowly."""
        import urllib.request

        import psutil

        from karafka_django.brokers import free_port
        from karafka_django.instrumentation.resources import buffer_split

        cap, total, partitions, payload = 64 * 2**20, 600, 12, b"x" * 900_000
        budget, prefetch_kbytes = buffer_split(cap, {}, 1)
        topic = self.topic("big", partitions, 0)
        group, port = f"big-{uuid.uuid4().hex[:6]}", free_port()
        process = self.server_process({"CLIENT_ID": group, "MAX_BUFFERED_BYTES": cap, "CONCURRENCY": 2,
                                       "ROUTES": [{"topic": topic, "consumer": f"{CONSUMERS}.SlowBigReader"}]},
                                      ["--metrics-port", str(port)])
        time.sleep(IDLE_AFTER_S)  # started and joined
        rss = psutil.Process(process.pid)
        idle, peaks = rss.memory_info().rss, {"rss": 0, "buffered_mb": 0.0}

        def sample() -> None:
            peaks["rss"] = max(peaks["rss"], rss.memory_info().rss)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                peaks["buffered_mb"] = max(peaks["buffered_mb"], json.loads(response.read())["buffered_mb"])

        with self.sampling(sample):
            self.fill(topic, partitions, total, payload)
            while self.committed_total(group, topic, partitions) < total:
                time.sleep(0.2)
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)
        raw_peak = self.raw_peak_rss(topic, total, {"queued.max.messages.kbytes": prefetch_kbytes})
        return {"messages": total, "message_kb": len(payload) // 1000, "partitions": partitions,
                "max_buffered_mb": cap // 2**20, "framework_budget_mb": budget // 2**20,
                "framework_peak_buffered_mb": peaks["buffered_mb"], "idle_rss_mb": round(idle / 2**20, 1),
                "peak_rss_mb": round(peaks["rss"] / 2**20, 1), "raw_same_tuning_peak_rss_mb": round(raw_peak / 2**20, 1),
                "rss_ratio_to_raw": round(peaks["rss"] / raw_peak, 2),
                "goal": "framework_peak_buffered_mb <= framework_budget_mb + one fetch; rss_ratio_to_raw <= 1"}

    @staticmethod
    @contextlib.contextmanager
    def sampling(sample: Callable[[], None], interval: float = 0.05) -> Any:
        """Call ``sample`` every ``interval`` seconds on a thread while the block runs."""
        done = threading.Event()

        def loop() -> None:
            while not done.wait(interval):
                sample()

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def raw_peak_rss(self, topic: str, total: int, tuning: dict[str, Any]) -> int:
        """Peak RSS of a raw consume(1000) loop in a child process that takes 20 ms a message on
        2 threads' worth (10 ms each), as slow as SlowBigReader with CONCURRENCY 2."""
        import psutil

        code = ("import json, sys, time; from confluent_kafka import Consumer\n"
                "c = Consumer({'bootstrap.servers': sys.argv[1], 'group.id': sys.argv[2], 'auto.offset.reset': 'earliest',"
                " 'fetch.queue.backoff.ms': 10, **json.loads(sys.argv[5])}); c.subscribe([sys.argv[3]]); seen = 0\n"
                "while seen < int(sys.argv[4]):\n"
                "    for m in c.consume(1000, 0.5):\n        len(m.value()); seen += 1; time.sleep(0.01)\n"
                "c.close()")
        process = subprocess.Popen([sys.executable, "-c", code, self.broker.bootstrap_servers, f"raw-{uuid.uuid4().hex}",
                                    topic, str(total), json.dumps(tuning)])
        watched, peak = psutil.Process(process.pid), {"rss": 0}

        def sample() -> None:
            try:
                peak["rss"] = max(peak["rss"], watched.memory_info().rss)
            except psutil.NoSuchProcess:
                pass

        with self.sampling(sample):
            process.wait()
        return peak["rss"]

    def shutdown(self) -> dict[str, Any]:
        def stop_time(consumer: str, busy: bool) -> float:
            topic = self.topic(f"stop-{consumer.lower()}", 1, 0)
            process = self.server_process({"CLIENT_ID": f"stop-{uuid.uuid4().hex[:6]}",
                                           "ROUTES": [{"topic": topic, "consumer": f"{CONSUMERS}.{consumer}"}]})
            time.sleep(IDLE_AFTER_S)  # started and joined
            if busy:
                producer = Producer({"bootstrap.servers": self.broker.bootstrap_servers})
                producer.produce(topic, b"{}")
                producer.flush(10)
                time.sleep(1)  # the 3 s batch is running
            started = time.perf_counter()
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(60)
            return time.perf_counter() - started

        return {"idle_stop_s": round(stop_time("RawReader", busy=False), 2), "idle_goal_s": "< 2",
                "busy_stop_s": round(stop_time("Sleeper", busy=True), 2),
                "busy_note": "SIGTERM 1 s into a 3 s batch: it finishes, commits, then the process exits"}


def percentiles(latencies: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(latencies, n=100)
    return {"p50": round(cuts[49], 1), "p99": round(cuts[98], 1), "n": len(latencies)}


def prepare_database() -> None:
    import django
    import psycopg
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    db = settings.DATABASES["default"]
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", (db["NAME"],)).fetchone():
            conn.execute(f'create database "{db["NAME"]}"')
    call_command("migrate", verbosity=0)


def main(argv: list[str]) -> None:
    import argparse

    from django.conf import settings

    if argv[:1] == ["chaos"]:  # its own options and its own cluster
        from bench.chaos import main as chaos

        return chaos(argv[1:])

    parser = argparse.ArgumentParser(description="karafka_django benchmarks beside raw confluent-kafka")
    parser.add_argument("--broker", choices=("kafka", "tansu"), default="kafka",
                        help="Apache Kafka 4.1.1 (the reference) or Tansu (the demo's broker)")
    parser.add_argument("names", nargs="*")
    options = parser.parse_args(argv)
    names = options.names

    benches: dict[str, Callable[[Bench], dict]] = {
        "overhead": Bench.overhead, "json": Bench.json, "orm": Bench.orm, "cpu": Bench.cpu,
        "memory": Bench.memory, "shutdown": Bench.shutdown, "big_messages": Bench.big_messages,
        "exactly_once": Bench.exactly_once, "latency": Bench.latency, "deploys": deploys,
        "transactions": transactions, "per_message": per_message, "scale": scale, "workload": workload,
    }
    unknown = set(names) - set(benches)
    if unknown:
        sys.exit(f"unknown benchmarks {sorted(unknown)}; choose from {sorted(benches)}")
    with make_broker(options.broker) as broker:
        say(f"broker: {broker.describe()}")
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
        prepare_database()
        settings.KARAFKA["KAFKA"]["bootstrap.servers"] = broker.bootstrap_servers
        from karafka_django.runtime.heap import freeze_startup_heap

        freeze_startup_heap()  # as karafka_server does; the raw loops run with the same frozen heap
        bench, results = Bench(broker), {}
        for name in names or list(benches):
            say(f"== {name}")
            started = time.perf_counter()
            results[name] = benches[name](bench)
            say(f"   {results[name]}  ({time.perf_counter() - started:.0f}s)")
    say("\n| benchmark | figures |\n| --- | --- |")
    for name, figures in results.items():
        say(f"| {name} | " + ", ".join(f"{k}: {v}" for k, v in figures.items()) + " |")
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
               "broker": options.broker}
    say(json.dumps({"machine": machine, "results": results}))
    missed = [name for name, figures in results.items() if figures.get("goal_met") is False]
    if missed:
        sys.exit(f"goals missed: {', '.join(missed)}")


if __name__ == "__main__":
    main(sys.argv[1:])
