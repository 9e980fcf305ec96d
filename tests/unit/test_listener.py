"""The listener's thread against a scripted client (through its client factory): assignment,
per-partition runs handed to the jobs queue, offsets stored after processing, commit on
revocation and on shutdown. No broker: the client's answers are the test's."""

import threading
import time

from confluent_kafka import TopicPartition

from karafka_django.conf import parse
from karafka_django.connection.listener import Listener
from karafka_django.instrumentation import Monitor
from karafka_django.processing.buffer import BufferBudget
from karafka_django.processing.executor import Executor
from karafka_django.processing.jobs_queue import JobsQueue
from karafka_django.routing.builder import build_routing
from karafka_django.testing import raw_message
from tests.integration.harness import wait_until


class ScriptedClient:
    """Stands for :class:`karafka_django.connection.client.Client`: assigns ``t/0`` and ``t/1``
    on the first fetch and hands over ``fetched`` then, then nothing."""

    def __init__(self, fetched: list):
        self.fetched = fetched
        self.stored: list = []
        self.committed: list = []
        self.accepted: list = []
        self.refusals: list[str] = []  # the broker's answers to the next commits, before it accepts
        self.group: dict = {}  # what the coordinator holds: the last commit that landed, per partition
        self.replays: list[list] = []  # older commits librdkafka sends again after the next ones land
        self.closed = threading.Event()
        self._callbacks: dict = {}

    def subscribe(self, topics, on_assign, on_revoke, on_lost):
        self._callbacks = {"assign": on_assign, "revoke": on_revoke}

    def fetch(self, max_messages, timeout):
        if not self.accepted:
            self._callbacks["assign"](None, [TopicPartition("t", 0), TopicPartition("t", 1)])
            fetched, self.fetched = self.fetched, []
            return fetched
        time.sleep(min(timeout, 0.01))
        return []

    def revoke(self, partitions):  # as librdkafka would, inside a consume call: here, directly
        self._callbacks["revoke"](None, [TopicPartition("t", p) for p in partitions])

    def accept_assignment(self, partitions):
        self.accepted += [(tp.topic, tp.partition) for tp in partitions]

    def store_offsets(self, offsets):
        self.stored += offsets

    def commit(self, offsets):
        if self.refusals:
            return self.refusals.pop(0)
        self.committed += offsets
        self.group |= {(t, p): o for t, p, o in offsets}
        if self.replays:  # a commit deferred at a coordinator change lands after this one
            self.group |= {(t, p): o for t, p, o in self.replays.pop(0)}
        return None

    def committed_offsets(self, partitions, timeout):
        return {key: self.group.get(key, -1) for key in partitions}

    def consume(self, num_messages, timeout):
        return self.fetch(num_messages, timeout)

    def pause(self, topic, partition):
        pass

    def resume(self, topic, partition):
        pass

    def seek(self, topic, partition, offset):
        return True

    def group_metadata(self):
        return None

    def close(self):
        self.closed.set()


def make_listener(client: ScriptedClient) -> tuple[Listener, JobsQueue]:
    config = parse({"KAFKA": {"bootstrap.servers": "k:9092"}, "MAX_MESSAGES": 10,
                    "ROUTES": [{"topic": "t", "consumer": "karafka_django.consumer.BaseConsumer"}]})
    [group] = build_routing(config).subscription_groups
    jobs, monitor = JobsQueue(), Monitor()
    listener = Listener(group, config, jobs, Executor(jobs, monitor), monitor, BufferBudget(0), 1024,
                        client_factory=lambda settings, on_stats, on_error: client)
    return listener, jobs


def test_runs_become_jobs_and_processed_offsets_are_stored_then_committed_on_revoke_and_shutdown():
    fetched = [raw_message("t", p, o, b"{}") for p in (0, 1) for o in range(15)]
    client = ScriptedClient(fetched)
    listener, jobs = make_listener(client)
    listener.start()
    try:
        first = [jobs.get(), jobs.get()]
        assert sorted((j.coordinator.partition, [m.offset() for m in j.raw]) for j in first) == [
            (0, list(range(10))), (1, list(range(10)))], "one batch of MAX_MESSAGES per partition, in offset order"
        assert client.accepted == [("t", 0), ("t", 1)]
        for job in first:
            [following] = job.coordinator.complete(job, mark_last=True)  # a worker's turn: it takes the rest itself
            assert [m.offset() for m in following.raw] == list(range(10, 15))
            if job.coordinator.partition == 0:
                job.coordinator.complete(following, mark_last=True)
        wait_until(lambda: ("t", 0, 15) in client.stored and ("t", 1, 10) in client.stored, 5, "the marks stored by the listener")

        revoked = listener.coordinators[("t", 0)]
        client.revoke([0])
        assert ("t", 0, 15) in client.committed and ("t", 0) not in listener.coordinators and revoked.revoked
    finally:
        listener.stop(time.monotonic() + 0.3)  # partition 1's second batch stays queued: no worker takes it
        listener.join(10)
    assert client.closed.is_set() and not listener.is_alive()
    assert client.committed[-1] == ("t", 1, 10), "shutdown commits what was marked, not the batch left unfinished"


def test_a_commit_refused_at_shutdown_by_a_rebalance_under_way_is_retried_after_polling(caplog):
    """KIP-848 refuses a commit sent with an epoch the coordinator just bumped
    (STALE_MEMBER_EPOCH); classic, one sent across a generation (ILLEGAL_GENERATION). Either
    way the stopping listener polls (which brings the new epoch) and commits again."""
    client = ScriptedClient([raw_message("t", 0, o, b"{}") for o in range(3)])
    listener, jobs = make_listener(client)
    listener.start()
    try:
        job = jobs.get()
        job.coordinator.complete(job, mark_last=True)
        client.refusals = ["KafkaError{code=STALE_MEMBER_EPOCH,val=113,str=\"Commit failed: Broker: stale epoch\"}",
                           "KafkaError{code=ILLEGAL_GENERATION,val=22,str=\"Commit failed: Broker: bad generation\"}"]
    finally:
        listener.stop(time.monotonic() + 3)
        listener.join(10)
    assert client.refusals == [] and client.committed == [("t", 0, 3)]
    assert "failed" not in caplog.text


def test_offsets_that_transactions_commit_are_never_stored_or_committed_by_the_listener():
    """After a transaction committed a partition's offsets, an older mark committed by the
    consumer (auto-commit, a revocation) would move the group back over results already sent."""
    client = ScriptedClient([raw_message("t", p, 0, b"{}") for p in (0, 1)])
    listener, jobs = make_listener(client)
    listener.start()
    try:
        first, second = sorted((jobs.get(), jobs.get()), key=lambda job: job.coordinator.partition)
        first.coordinator.offsets.by_transactions = True  # as Transaction.commit sets it
        for job in (first, second):
            job.coordinator.complete(job, mark_last=True)
        wait_until(lambda: ("t", 1, 1) in client.stored, 5, "partition 1's mark stored")
        client.revoke([0, 1])
    finally:
        listener.stop(time.monotonic() + 0.3)
        listener.join(10)
    assert ("t", 0, 1) not in client.stored and ("t", 0, 1) not in client.committed
    assert ("t", 1, 1) in client.committed


def finished(listener, jobs, partitions=(0, 1)):
    """Run the listener's first batch of each partition to its end (as a worker would)."""
    for _ in partitions:
        job = jobs.get()
        job.coordinator.complete(job, mark_last=True)


def test_an_older_commit_that_lands_after_the_final_one_is_committed_over_before_the_listener_leaves(caplog):
    fetched = [raw_message("t", p, o, b"{}") for p in (0, 1) for o in range(10)]
    client = ScriptedClient(fetched)
    client.replays = [[("t", 0, 3), ("t", 1, 4)]]  # an auto-commit deferred while the coordinator moved
    listener, jobs = make_listener(client)
    listener.start()
    finished(listener, jobs)
    wait_until(lambda: ("t", 0, 10) in client.stored and ("t", 1, 10) in client.stored, 5, "the marks stored")
    listener.stop(time.monotonic() + 5)
    listener.join(10)
    assert client.group == {("t", 0): 10, ("t", 1): 10}, "what the group holds after the stop is what it processed"
    assert listener.clean_exit
    assert "an older commit landed after the final one" in caplog.text


def test_a_final_commit_that_never_holds_is_not_a_clean_exit(caplog):
    fetched = [raw_message("t", p, o, b"{}") for p in (0, 1) for o in range(10)]
    client = ScriptedClient(fetched)
    client.replays = [[("t", 0, 3)]] * 1000  # every commit is followed by the old one
    listener, jobs = make_listener(client)
    listener.start()
    finished(listener, jobs)
    wait_until(lambda: ("t", 0, 10) in client.stored, 5, "the marks stored")
    listener.stop(time.monotonic() + 1)
    listener.join(10)
    assert not listener.is_alive() and not listener.clean_exit
    assert "the final commit did not hold" in caplog.text


def test_a_member_the_group_dropped_rejoins_with_a_new_client_and_commits_nothing_for_what_it_lost():
    from confluent_kafka import KafkaError

    fetched = [raw_message("t", p, o, b"{}") for p in (0, 1) for o in range(10)]
    clients = [ScriptedClient(fetched), ScriptedClient([])]
    made = []

    def factory(settings, on_stats, on_error):
        made.append(clients[len(made)])
        made[-1].on_error = on_error
        return made[-1]

    config = parse({"KAFKA": {"bootstrap.servers": "k:9092"}, "MAX_MESSAGES": 10,
                    "ROUTES": [{"topic": "t", "consumer": "karafka_django.consumer.BaseConsumer"}]})
    [group] = build_routing(config).subscription_groups
    jobs, monitor = JobsQueue(), Monitor()
    states = []
    monitor.subscribe("connection.client.state_changed", lambda _event, payload: states.append(payload["state"]))
    listener = Listener(group, config, jobs, Executor(jobs, monitor), monitor, BufferBudget(0), 1024, client_factory=factory)
    listener.start()
    try:
        finished(listener, jobs)  # both partitions processed: marks at 10, not committed yet
        # what librdkafka 2.16 said in a fresh clone's run of the suite (the member's session was lost)
        made[0].on_error(KafkaError(KafkaError._FATAL, "Fatal error: Broker: The group id does not exist: "
                                    "ConsumerGroupHeartbeat fatal error: Broker: The group id does not exist", fatal=True))
        wait_until(lambda: len(made) == 2, 5, "a new client in place of the dropped member's")
        assert made[0].closed.is_set() and made[0].committed == [], "what the group gave away is not committed by the lost member"
        assert listener.is_alive() and listener.faults.failure is None and states[:1] == ["rejoining"]
        wait_until(lambda: made[1].accepted, 5, "the new member assigned")
    finally:
        listener.stop(time.monotonic() + 1)
        listener.join(10)
    assert not listener.is_alive()


def test_a_fatal_error_no_new_client_cures_still_stops_the_listener():
    from confluent_kafka import KafkaError

    client = ScriptedClient([])
    listener, _jobs = make_listener(client)
    listener.start()
    wait_until(lambda: client.accepted, 5, "assigned")
    listener.faults.on_error(KafkaError(KafkaError._FATAL, "Fatal error: Broker: Static consumer fenced by other "
                                        "consumer with same group.instance.id", fatal=True))
    listener.join(10)
    assert not listener.is_alive() and "Static consumer fenced" in listener.faults.failure
