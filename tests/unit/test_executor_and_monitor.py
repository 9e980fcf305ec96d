"""The executor's retry/DLQ flow and the monitor, with in-memory messages and no broker."""

from karafka_django import BaseConsumer
from karafka_django.deserializers import raw_deserializer
from karafka_django.instrumentation import Monitor
from karafka_django.processing.coordinator import Coordinator
from karafka_django.processing.executor import Executor
from karafka_django.processing.jobs_queue import JobsQueue
from karafka_django.processing.pause import Backoff
from karafka_django.routing.route import DeadLetterQueue, VirtualPartitions
from karafka_django.testing import raw_message


def values(*payloads: bytes) -> list:
    """Messages of t/0 at offsets 0, 1, ... with these payloads."""
    return [raw_message("t", 0, offset, payload) for offset, payload in enumerate(payloads)]


class RejectsBad(BaseConsumer):
    seen: list = []

    def consume(self, messages):
        for message in messages:
            if message.payload == b"bad":
                raise ValueError("bad")
        RejectsBad.seen.extend(m.offset for m in messages)


def drain(executor: Executor, coordinator: Coordinator, first: list) -> None:
    """Run jobs (waiting out backoffs instantly) until the partition has nothing left."""
    for job in first:
        executor.jobs.put(job)
    while True:
        if not len(executor.jobs):
            for job in coordinator.due_jobs(now=coordinator.pause.ends_at):
                executor.jobs.put(job)
        if not len(executor.jobs):
            return
        executor.run(executor.jobs.get())


def test_skipping_dead_letter_queue_marks_the_bad_message_after_its_retries_and_processes_the_rest(make_coordinator):
    events: list = []
    monitor = Monitor()
    monitor.subscribe("*", lambda event, payload: events.append(event))
    coordinator = make_coordinator(RejectsBad, raw_deserializer, backoff=Backoff(1, 1),
                                   dead_letter_queue=DeadLetterQueue(None, max_retries=1))
    executor = Executor(JobsQueue(), monitor)
    RejectsBad.seen = []
    drain(executor, coordinator, (coordinator.add(values(b"ok", b"ok", b"bad", b"ok", b"ok"))))
    assert RejectsBad.seen == [0, 1, 3, 4]
    assert coordinator.offsets.marked == 5
    assert events.count("error.occurred") == 2  # in the batch, then alone once more (max_retries=1)
    assert events.count("dead_letter_queue.dispatched") == 1


def test_listener_objects_subscribe_by_method_name_and_a_failing_subscriber_is_contained():
    class Listener:
        def __init__(self):
            self.errors = []

        def on_error_occurred(self, event, payload):
            self.errors.append(payload["type"])

        def on_consumer_consumed(self, event, payload):
            raise RuntimeError("a broken subscriber")

    monitor, listener = Monitor(), Listener()
    monitor.subscribe(listener)
    assert monitor.has_subscribers("error.occurred") and not monitor.has_subscribers("app.running")
    monitor.instrument("error.occurred", type="consumer.consume.error")
    monitor.instrument("consumer.consumed", size=1)  # logged, not raised
    assert listener.errors == ["consumer.consume.error"]


def test_virtual_partitions_with_a_dead_letter_queue_skip_only_the_bad_message(make_coordinator):
    events: list = []
    monitor = Monitor()
    monitor.subscribe("dead_letter_queue.dispatched", lambda event, payload: events.append(payload["offset"]))
    coordinator = make_coordinator(RejectsBad, raw_deserializer, backoff=Backoff(1, 1),
                                   dead_letter_queue=DeadLetterQueue(None, max_retries=0),
                                   virtual_partitions=VirtualPartitions(lambda message: message.offset, 3))
    executor = Executor(JobsQueue(), monitor)
    RejectsBad.seen = []
    jobs = coordinator.add(values(*(b"bad" if o == 4 else b"ok" for o in range(9))))
    assert len(jobs) == 3, "split into three virtual parts"
    drain(executor, coordinator, jobs)
    assert sorted(set(RejectsBad.seen)) == [0, 1, 2, 3, 5, 6, 7, 8] and events == [4]
    assert coordinator.offsets.marked == 9


class FailingHooks(BaseConsumer):
    def consume(self, messages):
        pass

    def revoked(self):
        raise RuntimeError("revoked failed")


def test_a_failing_hook_is_reported_and_the_other_instances_hooks_still_run(make_coordinator):
    monitor, events = Monitor(), []
    monitor.subscribe("*", lambda event, payload: events.append((event, payload.get("type"))))
    executor = Executor(JobsQueue(), monitor)
    coordinator = make_coordinator(FailingHooks, raw_deserializer)
    called = []
    coordinator.consumers = {0: executor.build(coordinator), 1: executor.build(coordinator)}
    coordinator.consumers[1].revoked = lambda: called.append("second")
    executor.run_hook(coordinator, "revoked")
    assert called == ["second"]
    assert events == [("error.occurred", "consumer.revoked.error"), ("consumer.revoked", None)]


def test_the_test_client_runs_a_transactional_route_and_records_what_it_produces(settings):
    from karafka_django.testing import KarafkaTestClient

    settings.KARAFKA = {**settings.KARAFKA, "ROUTES": [
        {"topic": "t", "consumer": "tests.testapp.consumers.DerivingConsumer", "transactional": True}]}
    with KarafkaTestClient() as karafka:
        karafka.produce("t", {})
        karafka.produce("t", {})
        karafka.consume()
        assert [(m.topic, m.payload) for m in karafka.produced_messages] == [
            ("t.out", {"partition": 0, "offset": 0}), ("t.out", {"partition": 0, "offset": 1})]
        assert karafka.coordinator("t", 0).offsets.marked == 2


def test_a_partition_keeps_no_message_of_its_finished_batches(settings):
    """A partition's consumer (and its last job) outlive each batch: with hundreds of partitions,
    kept batches were hundreds of thousands of live messages that every full collection walked."""
    import gc

    from confluent_kafka import Message as RawMessage

    from karafka_django.testing import KarafkaTestClient

    settings.KARAFKA = {**settings.KARAFKA, "ROUTES": [
        {"topic": "kept", "consumer": "tests.testapp.consumers.OffsetsCollector"}]}
    with KarafkaTestClient() as karafka:
        for partition in range(4):
            for n in range(50):
                karafka.produce("kept", {"n": n}, partition=partition)
        karafka.consume()
        assert karafka.committed("kept", 3) == 50
        gc.collect()
        alive = [o for o in gc.get_objects() if isinstance(o, RawMessage) and o.topic() == "kept"]
        assert alive == []
