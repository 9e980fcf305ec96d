"""Every partition state survives every group event (the matrix of issue 10).

For each cell a real server consumes a 2-partition topic, is brought into a partition state
(observed through ``/healthz``, never assumed after a sleep), then a group event happens. The
cell passes when every produced offset was processed, the committed offsets equal the ends,
and no partition is left fetch-paused. Backlogs exceed the per-partition buffer bound (2,000
messages), so "buffer full" really pauses fetching in librdkafka.
"""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from confluent_kafka import Consumer

from karafka_django.brokers import free_port
from tests.integration.harness import Kafka, ServerProcess, unique, wait_until
from tests.testapp.models import HookCall, Record, Span

pytestmark = [pytest.mark.integration, pytest.mark.matrix]

CONSUMER = "tests.testapp.consumers.RecordingConsumer"
PARTITIONS = 2
SESSION_TIMEOUT_S = 6  # tests/settings.py, and the broker's group.consumer.session.timeout.ms
#: The consumer's settings of each rebalance protocol (None unsets the tests' session.timeout.ms:
#: under KIP-848 the session is the broker's).
PROTOCOLS = {
    "eager": {"partition.assignment.strategy": "range"},
    "cooperative": {"partition.assignment.strategy": "cooperative-sticky"},
    "consumer": {"group.protocol": "consumer", "session.timeout.ms": None},
}


@dataclass
class State:
    """How to bring both partitions into a state, and how /healthz shows that it holds."""

    messages: Callable[[int], dict]  # per index: the payload
    count: int
    reached: Callable[[dict], bool]
    route: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    before_event: bool = True  # produce before the event (False: an idle partition gets work after)


def _plain(_i: int) -> dict:
    return {}


STATES = {
    "idle": State(_plain, 200, lambda s: s["partitions"] == PARTITIONS, before_event=False),
    "batch_in_flight": State(lambda i: {"sleep": 2} if i < PARTITIONS else {}, 400, lambda s: s["busy"] >= 1),
    "buffer_full": State(lambda i: {"sleep": 0.002}, 5000, lambda s: s["fetch_paused"] == PARTITIONS),
    "retry_backoff": State(lambda i: {"fail_attempts": 2} if i == 10 else {}, 400, lambda s: s["fetch_paused"] >= 1,
                           settings={"PAUSE_TIMEOUT_MS": 2000, "PAUSE_MAX_TIMEOUT_MS": 4000}),
    "consumer_pause": State(lambda i: {"pause_ms": 5000} if i < PARTITIONS else {}, 400,
                            lambda s: s["fetch_paused"] == PARTITIONS),
    "filter_pause": State(_plain, 400, lambda s: s["fetch_paused"] >= 1,
                          route={"filters": [{"class": "karafka_django.filtering.Delayer", "delay_ms": 5000}]}),
    "tick_in_flight": State(_plain, 200, lambda s: s["busy"] >= 1, before_event=False,
                            route={"consumer": "tests.testapp.consumers.SlowTickConsumer", "periodic": {"interval_ms": 300}}),
    "virtual_partitions_in_flight": State(lambda i: {"sleep": 1.5} if i < 2 * PARTITIONS else {}, 400,
                                          lambda s: s["busy"] >= 2,
                                          route={"virtual_partitions": {"partitioner": "tests.testapp.consumers.by_key",
                                                                        "max_partitions": 3}}),
}


class Cell:
    """One server (or its successor after a restart) on one topic, observed through /healthz."""

    def __init__(self, kafka: Kafka, make_server: Any, state: State, protocol: str = "eager"):
        self.kafka, self.make_server, self.state = kafka, make_server, state
        self.topic = kafka.create_topic(unique("matrix"), PARTITIONS)
        self.group = make_server.group
        self.incremental = protocol != "eager"
        self.kafka_settings = PROTOCOLS[protocol]
        self.route = {"topic": self.topic, "consumer": CONSUMER, **state.route}
        self.ends: dict[int, int] = {}
        self.server = self.start()

    def start(self) -> ServerProcess:
        self.port = free_port()
        server = self.make_server([self.route], ["--metrics-port", str(self.port)], MAX_MESSAGES=10,
                                  KAFKA=self.kafka_settings, **self.state.settings).start()
        server.wait_assigned(timeout=60)
        return server

    def status(self) -> dict:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:  # 503 still carries the status
            return json.loads(error.read())
        except OSError:
            return {}

    def produce(self) -> None:
        self.ends = self.kafka.produce(self.topic, (
            (i % PARTITIONS, str(i).encode(), json.dumps(self.state.messages(i)).encode())
            for i in range(self.state.count)))

    def wait_for(self, condition: Callable[[dict], bool], what: str, timeout: float = 60) -> None:
        wait_until(lambda: (s := self.status()) and condition(s), timeout, f"{what}; last status {self.status()}")

    def processed(self) -> set[tuple[int, int]]:
        return set(Record.objects.filter(topic=self.topic).values_list("partition", "offset"))

    def assert_all_processed_and_committed(self) -> None:
        expected = {(p, o) for p, end in self.ends.items() for o in range(end)}
        wait_until(lambda: self.processed() >= expected, 120,
                   f"every offset processed; server log:\n{self.server.log()[-3000:]}")
        assert self.processed() == expected
        self.wait_for(lambda s: s["fetch_paused"] == 0 and s["queued"] == 0, "no partition left paused")
        assert self.server.stop() == 0
        assert self.kafka.committed(self.group, self.topic, PARTITIONS) == self.ends


def join_and_leave(cell: Cell) -> float:
    """Another member joins the group (taking a partition), then leaves it again; returns when
    the rebalance that let it in had completed (its assignment arrived)."""
    settings = {"session.timeout.ms": 6000, **cell.kafka_settings}
    member = Consumer({"bootstrap.servers": cell.kafka.bootstrap_servers, "group.id": cell.group, "enable.auto.commit": False,
                       **{key: value for key, value in settings.items() if value is not None}})
    member.subscribe([cell.topic])

    def assigned() -> bool:
        member.poll(0.2)
        return bool(member.assignment())

    try:
        wait_until(assigned, 60, "the second member's assignment")
        joined_at = time.time()
    finally:
        member.close()
    cell.server.wait_for_log("partitions_revoked", timeout=60)
    if cell.incremental:  # only the partition that moves is revoked
        revoked = re.search(r"partitions_revoked \S+ partitions=(\S+)", cell.server.log()).group(1)
        assert len(revoked.split(",")) == 1, revoked
    cell.wait_for(lambda s: s["partitions"] == PARTITIONS, "both partitions back")
    return joined_at


def lose_partitions(cell: Cell) -> None:
    """The process freezes past session.timeout.ms: the group takes its partitions (``on_lost``).

    The freeze's length is the fault itself, not a wait for an outcome: librdkafka sees on
    waking that no heartbeat succeeded within the session and declares the assignment lost.
    """
    cell.server.signal(signal.SIGSTOP)
    try:
        time.sleep(SESSION_TIMEOUT_S * 1.5)
    finally:
        cell.server.signal(signal.SIGCONT)
    cell.server.wait_for_log("partitions_lost", timeout=60)
    cell.wait_for(lambda s: s["partitions"] == PARTITIONS, "both partitions back")


def restart(cell: Cell) -> None:
    """A graceful shutdown (offsets committed), then a new server in the same group."""
    assert cell.server.stop() == 0, cell.server.log()
    cell.server = cell.start()


EVENTS = {
    "member_joins_and_leaves": (join_and_leave, "eager"),
    "cooperative_member_joins_and_leaves": (join_and_leave, "cooperative"),
    "kip848_member_joins_and_leaves": (join_and_leave, "consumer"),
    "partitions_lost": (lose_partitions, "eager"),
    "cooperative_partitions_lost": (lose_partitions, "cooperative"),
    "kip848_partitions_lost": (lose_partitions, "consumer"),
    "shutdown_and_restart": (restart, "eager"),
    "cooperative_shutdown_and_restart": (restart, "cooperative"),
    "kip848_shutdown_and_restart": (restart, "consumer"),
}


@pytest.mark.parametrize("event", list(EVENTS))
@pytest.mark.parametrize("state", list(STATES))
def test_every_partition_state_survives_every_group_event(kafka, make_server, state, event):
    happen, protocol = EVENTS[event]
    cell = Cell(kafka, make_server, STATES[state], protocol)
    if cell.state.before_event:
        cell.produce()
    cell.wait_for(cell.state.reached, f"state {state}")

    happen(cell)
    if not cell.state.before_event:
        cell.produce()

    cell.assert_all_processed_and_committed()


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_revocation_does_not_wait_for_a_long_batch_and_a_partition_never_runs_two_batches_at_once(kafka, make_server,
                                                                                                    protocol):
    """A 12 s batch runs on each partition when a member joins: the rebalance waits only
    REVOCATION_TIMEOUT_MS for the one it takes (the member is in before the batch ends), the
    partition comes back while the batch still runs, and its next batch starts only after it
    ended. What the batch marked after the revocation is not committed, so its messages are
    processed again; nothing is lost."""
    long_batch = State(lambda i: {"sleep": 12} if i < PARTITIONS else {}, 100, lambda s: s["busy"] == PARTITIONS,
                       route={"consumer": "tests.testapp.consumers.SpanningConsumer"},
                       settings={"REVOCATION_TIMEOUT_MS": 500})
    cell = Cell(kafka, make_server, long_batch, protocol)
    cell.produce()
    cell.wait_for(long_batch.reached, "the long batches running")
    joined_at = join_and_leave(cell)
    cell.assert_all_processed_and_committed()

    for partition in range(PARTITIONS):
        spans = sorted(Span.objects.filter(topic=cell.topic, partition=partition).values_list("started", "ended"))
        assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:])), f"batches overlapped: {spans}"
    longest = max(Span.objects.filter(topic=cell.topic).values_list("started", "ended"), key=lambda span: span[1] - span[0])
    assert joined_at < longest[1], "the rebalance waited for the long batch"


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_a_long_batch_asking_is_revoked_stops_early_and_its_messages_are_processed_once_after(kafka, make_server,
                                                                                              protocol):
    """A 10 s batch on each partition checks ``is_revoked`` as it goes (Karafka's ``revoked?``)
    and returns, writing nothing, once a joining member takes its partition. Nothing it marked
    is committed: when the partition comes back its messages are read again and each offset is
    written exactly once. The partition that stays (incremental protocols) is not disturbed."""
    checking = State(lambda i: {"sleep_unless_revoked": 10} if i < PARTITIONS else {}, 100,
                     lambda s: s["busy"] == PARTITIONS)
    cell = Cell(kafka, make_server, checking, protocol)
    cell.produce()
    cell.wait_for(checking.reached, "the long batches running")
    join_and_leave(cell)
    cell.assert_all_processed_and_committed()

    stopped = list(Span.objects.filter(topic=cell.topic, kind="stopped").values_list("partition", "started", "ended"))
    revoked = {hook.partition for hook in HookCall.objects.filter(topic=cell.topic, name="revoked")}
    assert {partition for partition, _, _ in stopped} == revoked, (stopped, revoked)  # eager: revoked again on the leave
    assert len(revoked) == (1 if cell.incremental else PARTITIONS)
    assert all(ended - started < 6 for _, started, ended in stopped), f"a revoked batch ran on: {stopped}"
    assert Record.objects.filter(topic=cell.topic).count() == sum(cell.ends.values()), "an offset was written twice"


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_static_membership_with_two_subscription_groups_consumes_both_topics(kafka, make_server, protocol):
    """One group.instance.id in KAFKA, two subscription groups in one consumer group: each
    consumer gets its own suffixed id, so neither fences the other out."""
    first, second = kafka.create_topic(unique("static-a"), 1), kafka.create_topic(unique("static-b"), 1)
    ends = {topic: kafka.produce_json(topic, 1, 100) for topic in (first, second)}
    routes = [{"topic": first, "consumer": CONSUMER, "subscription_group": "a"},
              {"topic": second, "consumer": CONSUMER, "subscription_group": "b"}]
    server = make_server(routes, KAFKA={"group.instance.id": unique("host"), **PROTOCOLS[protocol]}).start()
    server.wait_assigned(subscription_groups=2, timeout=60)
    for topic in (first, second):
        wait_until(lambda topic=topic: Record.objects.filter(topic=topic).values("offset").distinct().count() == 100, 60,
                   f"every message of {topic}")
    assert server.process.poll() is None and "FENCED" not in server.log().upper()
    assert server.stop() == 0
    for topic in (first, second):
        assert kafka.committed(make_server.group, topic, 1) == ends[topic]


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_quiet_mode_survives_a_rebalance_and_takes_no_new_work(kafka, make_server, protocol):
    """Quiet mode crossed with a rebalance: re-assigned partitions stay quiet (fetching paused,
    nothing processed), the process stays in the group, and a stop commits what was processed."""
    backlog = State(lambda i: {"sleep": 0.005}, 3000, lambda s: s["busy"] >= 1)
    cell = Cell(kafka, make_server, backlog, protocol)
    cell.produce()
    cell.wait_for(backlog.reached, "processing under way")
    cell.server.signal(signal.SIGTSTP)
    cell.server.wait_for_log("app.quieting")
    cell.wait_for(lambda s: s["busy"] == 0 and s["queued"] == 0, "in-flight work finished")
    settled = len(cell.processed())
    join_and_leave(cell)
    cell.wait_for(lambda s: s["partitions"] == PARTITIONS and s["fetch_paused"] == PARTITIONS, "quiet partitions paused")
    assert len(cell.processed()) == settled < backlog.count, "quiet mode took new work after the rebalance"
    assert cell.server.stop() == 0
    committed = {p: max(o, 0) for p, o in kafka.committed(cell.group, cell.topic, PARTITIONS).items()}
    processed = {p: len([o for q, o in cell.processed() if q == p]) for p in range(PARTITIONS)}
    assert committed == processed
