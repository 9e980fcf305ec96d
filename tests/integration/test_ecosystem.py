"""Integrations: headers as other clients send them, the embedded server, the reloading dev server."""

import base64
import json
import os
import signal
import socket
import threading
from types import SimpleNamespace

import pytest

from tests.integration.harness import ROOT, unique, wait_until
from tests.testapp.models import Record

pytestmark = pytest.mark.integration

BINARY = bytes(range(240, 256))  # not UTF-8
CONSUMER = "tests.testapp.consumers.RecordingConsumer"
FAST_COMMITS = {"auto.commit.interval.ms": 200}


def test_binary_and_repeated_headers_read_back_unchanged_through_raw_headers(kafka, make_server):
    topic = kafka.create_topic(unique("headers"), 1)
    sent = [("trace-id", BINARY[:16]), ("schema", b"\x00\x00\x00\x01"), ("tag", b"a"), ("tag", b"b"), ("empty", None),
            ("text", "caf\u00e9".encode())]
    kafka.produce(topic, [(0, b"k", b"{}", 0, sent)])
    server = make_server([{"topic": topic, "consumer": "tests.testapp.consumers.HeaderEchoConsumer"}]).start()
    echoes = wait_until(lambda: kafka.read_all(f"{topic}.echo", timeout=5), 40, "the echo")
    assert server.stop() == 0
    echo = json.loads(echoes[0].value())
    assert [(n, None if v is None else base64.b64decode(v)) for n, v in echo["raw_headers"]] == sent
    assert echo["headers"]["tag"] == "b" and echo["headers"]["text"] == "caf\u00e9", "text view: last value, decoded"
    assert "\ufffd" in echo["headers"]["trace-id"], "binary values are replaced in the text view"


@pytest.mark.matrix  # a long crash/fault scenario: one Python/Django pair runs it
def test_reload_restarts_after_a_file_changes_and_processes_nothing_twice(kafka, make_server):
    topic = kafka.create_topic(unique("reloaded"), 2)
    ends = kafka.produce_json(topic, 2, 200)
    server = make_server([{"topic": topic, "consumer": CONSUMER}], args=["--reload"], KAFKA=FAST_COMMITS).start()
    wait_until(lambda: kafka.committed(make_server.group, topic, 2) == ends, 40, "the first messages committed")

    touched = ROOT / "tests" / "testapp" / "consumers.py"
    os.utime(touched)  # a save: the mtime moves, the content stays
    server.wait_for_log("app.reloading", 20)
    assert f"file={touched}" in server.log()
    server.wait_for_log("partitions_assigned", 40, count=2)
    ends = kafka.produce_json(topic, 2, 200)
    ends = {p: o for p, o in ends.items()}
    wait_until(lambda: kafka.committed(make_server.group, topic, 2) == ends, 40, "the later messages committed")
    assert server.stop() == 0
    offsets = list(Record.objects.filter(topic=topic).values_list("partition", "offset"))
    assert len(offsets) == 400 and len(set(offsets)) == 400, "every message once across the restart"
    assert server.log().count("app.stopped") == 2, "the first server stopped gracefully before the reload"


PROBE = "from tests.testapp.consumers import RecordingConsumer\n\n\nclass Probe(RecordingConsumer):\n    pass\n"


@pytest.mark.matrix  # a long restart scenario: one Python/Django pair runs it
def test_reload_survives_a_syntax_error_and_restarts_when_it_is_fixed(kafka, make_server, tmp_path):
    topic = kafka.create_topic(unique("typo"), 1)
    probe = tmp_path / "reload_probe.py"
    probe.write_text(PROBE)
    ends = kafka.produce_json(topic, 1, 10)
    server = make_server([{"topic": topic, "consumer": "reload_probe.Probe"}], args=["--reload"], KAFKA=FAST_COMMITS,
                         env={"PYTHONPATH": str(tmp_path)}).start()
    wait_until(lambda: kafka.committed(make_server.group, topic, 1) == ends, 40, "the first messages committed")

    probe.write_text(PROBE + "    def broken(:\n")  # a typo saved
    server.wait_for_log("app.reload_failed", 40)
    assert server.process.poll() is None, "the parent waits for the fix"
    assert "SyntaxError" in server.log() and server.log().count("app.reload_failed") == 1

    probe.write_text(PROBE + "    # fixed\n")
    server.wait_for_log("partitions_assigned", 60, count=2)
    ends = kafka.produce_json(topic, 1, 10)
    wait_until(lambda: kafka.committed(make_server.group, topic, 1) == {0: 20}, 40, "the later messages committed")
    assert Record.objects.filter(topic=topic).count() == 20
    server.signal(signal.SIGTTIN)
    server.wait_for_log("thread stacks", 20)
    assert "--- thread karafka.worker-0 ---" in server.log(), "SIGTTIN reached the child's server"
    assert server.stop() == 0


def test_an_embedded_server_consumes_in_a_thread_and_stops_cleanly(kafka, embedded_server, db_connections):
    from karafka_django import embedded

    topic = kafka.create_topic(unique("embedded"), 3)
    ends = kafka.produce_json(topic, 3, 300)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    server = embedded_server([{"topic": topic, "consumer": CONSUMER}], CONCURRENCY=2)
    sampler = db_connections(SimpleNamespace(pid=os.getpid()))
    wait_until(lambda: Record.objects.filter(topic=topic).count() == 300, 40, "the backlog consumed")
    with pytest.raises(RuntimeError, match="already running"):
        embedded.start()
    assert embedded.stop(60) == 0
    peak = sampler.stop()
    assert peak <= server.db_connection_bound + 1, f"{peak} connections: the bound plus this test's own"
    assert kafka.committed(embedded_server.group(), topic, 3) == ends, "offsets committed at the stop"
    assert {s: signal.getsignal(s) for s in handlers} == handlers, "no signal handler installed"
    assert not [t for t in threading.enumerate() if t.name.startswith("karafka")], "its threads are gone"



def test_a_stopped_embedded_server_reports_nothing_more_of_the_process(kafka, embedded_server, producing_to):
    """The process outlives an embedded server: its reporter must stop publishing the process's
    errors once the server stopped (it stayed subscribed to the monitor, and later errors went out
    through the shared producer)."""
    from karafka_django import embedded, producer
    from karafka_django.instrumentation import monitor

    topic = kafka.create_topic(unique("embedded-reporting"), 1)
    errors_topic = unique("errors")
    server = embedded_server([{"topic": topic, "consumer": CONSUMER}], REPORTING=True, ERRORS_TOPIC=errors_topic)
    wait_until(lambda: server.state == "running", 40, "the server running")
    monitor.instrument("error.occurred", type="consumer.consume.error", error="while running", exception=RuntimeError())
    assert embedded.stop(60) == 0
    monitor.instrument("error.occurred", type="consumer.consume.error", error="after the stop", exception=RuntimeError())
    producer.flush(10)
    published = [json.loads(m.value())["error"] for m in kafka.read_all(errors_topic, timeout=10)]
    assert any("while running" in error for error in published), published
    assert not any("after the stop" in error for error in published), published

@pytest.fixture
def subscribed():
    """``subscribed(listener)`` subscribes it to the monitor for this test only."""
    from karafka_django.instrumentation import monitor

    listeners = []

    def subscribe(listener):
        monitor.subscribe(listener)
        listeners.append(listener)
        return listener

    yield subscribe
    for listener in listeners:
        monitor.unsubscribe(listener)


def test_a_view_that_produces_and_the_consumer_that_handles_it_share_one_trace(kafka, client, embedded_server, subscribed):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, StatusCode

    from karafka_django.instrumentation.vendors.otel import TracingListener

    exporter, provider = InMemorySpanExporter(), TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    subscribed(TracingListener(tracer_provider=provider))
    topic, dlq, reports = kafka.create_topic(unique("traced"), 1), unique("traced_dlq"), unique("traced_reports")
    embedded_server([{"topic": topic, "consumer": CONSUMER, "dead_letter_queue": {"topic": dlq, "max_retries": 0}}],
                    REPORTING=True, REPORTS_TOPIC=reports, REPORT_INTERVAL_MS=500)

    assert client.post(f"/produce/{topic}/?key=fine", b"{}", content_type="application/json").status_code == 201
    spans = lambda name: [s for s in exporter.get_finished_spans() if s.name == name]  # noqa: E731
    wait_until(lambda: spans(f"process {topic}"), 40, "the batch span")
    [send], [process] = spans(f"send {topic}"), spans(f"process {topic}")
    assert send.kind == SpanKind.PRODUCER and process.kind == SpanKind.CONSUMER
    assert process.context.trace_id == send.context.trace_id and process.parent.span_id == send.context.span_id
    assert process.links[0].context.span_id == send.context.span_id
    assert {k: process.attributes[k] for k in ("messaging.system", "messaging.destination.name",
                                               "messaging.destination.partition.id", "messaging.batch.message_count",
                                               "messaging.consumer.group.name")} == {
        "messaging.system": "kafka", "messaging.destination.name": topic, "messaging.destination.partition.id": "0",
        "messaging.batch.message_count": 1, "messaging.consumer.group.name": embedded_server.group()}

    client.post(f"/produce/{topic}/?key=bad", json.dumps({"poison": True}), content_type="application/json")
    # The dispatch span ends after the DLQ send inside it: wait for both.
    wait_until(lambda: spans(f"send {dlq}") and spans(f"dead_letter_queue {topic}"), 40, "the dead letter sent")
    poison_send = spans(f"send {topic}")[1]
    failed = [s for s in spans(f"process {topic}") if s.context.trace_id == poison_send.context.trace_id]
    assert failed and failed[0].status.status_code == StatusCode.ERROR
    assert any(e.name == "exception" and "poison" in e.attributes["exception.message"] for e in failed[0].events)
    [dispatch], [dlq_send] = spans(f"dead_letter_queue {topic}"), spans(f"send {dlq}")
    assert dispatch.parent.span_id == poison_send.context.span_id, "the DLQ dispatch is a child of the message's trace"
    assert dlq_send.parent.span_id == dispatch.context.span_id
    [dead] = kafka.read_all(dlq)
    context = dlq_send.context
    assert [v for k, v in dead.headers() if k == "traceparent"] == [
        f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}".encode()], "one traceparent: the DLQ send's"
    wait_until(lambda: kafka.read_all(reports, timeout=2), 20, "reports sent")
    assert not spans(f"send {reports}"), "the framework's own report traffic opens no span"


def test_statsd_metrics_arrive_with_their_tags(kafka, make_server):
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(0.2)
    topic, dlq = kafka.create_topic(unique("measured"), 1), unique("measured_dlq")
    kafka.produce(topic, [(0, b"k", json.dumps({"poison": n == 5}).encode()) for n in range(20)])
    listener = {"class": "karafka_django.instrumentation.vendors.statsd.StatsdListener", "port": sink.getsockname()[1]}
    route = {"topic": topic, "consumer": CONSUMER, "dead_letter_queue": {"topic": dlq, "max_retries": 0}}
    server = make_server([route], LISTENERS=[listener], KAFKA=FAST_COMMITS).start()
    lines: list[str] = []

    def received(prefix: str) -> list[str]:
        try:
            while True:
                lines.extend(sink.recv(65536).decode().splitlines())
        except TimeoutError:
            pass
        return [line for line in lines if line.startswith(prefix)]

    tags = f"topic:{topic},partition:0,consumer_group:{make_server.group}"
    wait_until(lambda: sum(int(line.split(":")[1].split("|")[0]) for line in received("karafka.messages.consumed")) == 19,
               40, "19 messages counted consumed (the 20th is dead-lettered, counted there)")
    wait_until(lambda: received("karafka.consumer.lag"), 20, "a lag gauge")
    assert server.stop() == 0
    assert all(line.endswith(f"|c|#{tags}") for line in received("karafka.messages.consumed"))
    assert any(f"|ms|#{tags}" in line for line in received("karafka.batch.processing_time"))
    assert any(line.startswith(f"karafka.errors:1|c|#type:consumer.consume.error,topic:{topic},partition:0") for line in lines)
    assert [line.split("|#")[1] for line in received("karafka.dead_letter_queue.dispatched")] == [
        f"topic:{topic},partition:0,consumer_group:{make_server.group},dead_letter_topic:{dlq}"]
    lag_tags = f"|g|#topic:{topic},partition:0,consumer_group:{make_server.group}"
    assert any(line.endswith(lag_tags) for line in received("karafka.consumer.lag"))
    sink.close()


def test_errors_reach_sentry_once_per_failing_batch_with_their_tags_and_no_message_content(
        kafka, embedded_server, subscribed, settings, caplog, sentry):
    from django.db import transaction
    from sentry_sdk.transport import Transport

    from karafka_django.instrumentation.vendors.sentry import SentryListener
    from tests.testapp.tasks import explode

    class Captured(Transport):
        def __init__(self):
            super().__init__()
            self.events = []

        def capture_envelope(self, envelope):
            if envelope.get_event() is not None:
                self.events.append(envelope.get_event())

    transport = Captured()
    sentry(transport=transport)  # send_default_pii is off: no message content may leave
    secret = "SECRET-4242"
    subscribed(SentryListener())
    topic, tasks_topic = kafka.create_topic(unique("watched"), 1), kafka.create_topic(unique("tasks"), 1)
    settings.TASKS = {"default": {"BACKEND": "karafka_django.tasks.KafkaBackend", "OPTIONS": {"topic": tasks_topic}}}
    kafka.produce(topic, [(0, secret.encode(), json.dumps({"poison": True, "card": secret}).encode(), 0,
                           [("card", secret.encode())])])
    dlq = unique("watched_dlq")
    embedded_server([{"topic": topic, "consumer": CONSUMER, "dead_letter_queue": {"topic": dlq, "max_retries": 2}}],
                    PAUSE_TIMEOUT_MS=100)
    with transaction.atomic():
        explode.enqueue()
    wait_until(lambda: kafka.read_all(dlq, timeout=2), 40, "the poison message dead-lettered after 3 attempts")
    wait_until(lambda: {e["tags"].get("karafka.error_type") for e in transport.events} >= {"consumer.consume.error", "task.error"},
               40, "both errors captured")
    consumed = [e for e in transport.events if e["tags"]["karafka.error_type"] == "consumer.consume.error"]
    assert len(consumed) == 1, "three failed attempts of one batch: one event"
    assert {k: consumed[0]["tags"][k] for k in ("kafka.topic", "kafka.partition", "kafka.offset", "kafka.consumer_group",
                                                 "karafka.consumer")} == {
        "kafka.topic": topic, "kafka.partition": "0", "kafka.offset": "0", "kafka.consumer_group": embedded_server.group(),
        "karafka.consumer": CONSUMER}
    assert consumed[0]["exception"]["values"][-1]["type"] == "ValueError"
    assert secret not in json.dumps(transport.events), "no payload, key or header content (nor a frame's locals) in any event"
    assert secret not in caplog.text, "nor in the log"
    task = next(e for e in transport.events if e["tags"]["karafka.error_type"] == "task.error")
    assert task["tags"]["django.task"] == "tests.testapp.tasks.explode"


def test_reload_does_not_combine_with_swarm(settings):
    from django.core.management import CommandError, call_command

    settings.KARAFKA = {**settings.KARAFKA, "ROUTES": [{"topic": "orders", "consumer": CONSUMER}]}
    with pytest.raises(CommandError, match="--reload is for development and does not combine with --swarm"):
        call_command("karafka_server", "--reload", "--swarm", "2")
