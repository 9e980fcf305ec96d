"""The process-wide producer: thread-safe, one client per process, JSON for dicts."""

import json
import threading

import pytest

from karafka_django import producer
from tests.integration.harness import unique

pytestmark = pytest.mark.integration


def test_ten_thousand_messages_from_eight_threads_through_one_producer(producing_to):
    topic = producing_to.create_topic(unique("produced"), 4)
    clients, failures = set(), []

    def work(thread: int) -> None:
        try:
            clients.add(id(producer.client))
            deliveries = []
            for i in range(1250):
                value = {"thread": thread, "i": i}
                if i % 25 == 0:
                    assert producer.produce_sync(topic, value, key=f"{thread}").offset >= 0
                else:
                    deliveries.append(producer.produce_async(topic, value, key=f"{thread}"))
            for delivery in deliveries:
                delivery.wait(30)
        except Exception as exc:  # surfaced below with the thread's number
            failures.append((thread, exc))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures
    assert len(clients) == 1, "one librdkafka producer per process"
    assert sum(t.name == "karafka.producer" for t in threading.enumerate()) == 1

    received = {(v["thread"], v["i"]) for v in (json.loads(m.value()) for m in producing_to.read_all(topic))}
    assert received == {(t, i) for t in range(8) for i in range(1250)}


def test_failed_delivery_raises(producing_to, settings):
    settings.KARAFKA = {**settings.KARAFKA, "KAFKA": {"bootstrap.servers": "127.0.0.1:1", "message.timeout.ms": 500}}
    producer.close()
    with pytest.raises(Exception, match="failed"):
        producer.produce_sync("nowhere", {"a": 1}, timeout=10)


@pytest.mark.matrix  # a long crash/fault scenario: one Python/Django pair runs it
def test_a_view_gets_a_definite_failure_in_bounded_time_while_the_broker_is_down_then_recovers(settings, caplog, client,
                                                                                            spare_broker):
    """The shop's order view during a broker outage: 503 with the reason within the sync
    timeout; librdkafka's retries are collapsed in the log; the failed message is never
    delivered later; once the broker is back the same process produces, without a restart."""
    import logging
    import time

    from tests.integration.harness import Kafka

    settings.KARAFKA = {**settings.KARAFKA, "PRODUCER_SYNC_TIMEOUT_MS": 2000,
                        "KAFKA": {"bootstrap.servers": spare_broker.bootstrap_servers}}
    producer.close()
    caplog.set_level(logging.DEBUG, logger="karafka_django")
    try:
        started = time.monotonic()
        response = client.post("/orders/", {"number": "lost"}, content_type="application/json")
        assert time.monotonic() - started < 2 + 2.5, "produce_sync must end within the sync timeout"
        assert response.status_code == 503
        error = response.json()["error"]
        assert "broker unreachable" in error and ("Connection refused" in error or "brokers are down" in error), error
        assert producer.state()["brokers"] == "down"
        time.sleep(3)  # the outage goes on: librdkafka keeps retrying the connection every few ms
        client_lines = [r for r in caplog.records if r.name.startswith("karafka_django.librdkafka")]
        assert len(client_lines) <= 6, [r.getMessage() for r in client_lines]

        with spare_broker:
            kafka = Kafka(spare_broker.bootstrap_servers)  # the broker creates "orders" on first use
            response = client.post("/orders/", {"number": "after"}, content_type="application/json")
            assert response.status_code == 201 and response.json()["offset"] == 0
            assert producer.state()["brokers"] == "up"
            assert [json.loads(m.value())["number"] for m in kafka.read_all("orders", timeout=5)] == ["after"]
    finally:
        producer.close()


def test_a_full_local_queue_raises_after_the_bounded_wait_and_a_too_large_message_at_once(settings):
    import time

    from karafka_django.brokers import free_port
    from karafka_django.conf import parse
    from karafka_django.errors import ProduceError
    from karafka_django.producing.producer import Producer

    config = parse({**settings.KARAFKA, "PRODUCER_QUEUE_FULL_TIMEOUT_MS": 500,
                    "KAFKA": {"bootstrap.servers": f"127.0.0.1:{free_port()}"}, "PRODUCER": {"queue.buffering.max.messages": 5}})
    # A producer of its own, and the settings left alone: a thread an earlier test left behind may
    # use the shared producer meanwhile, and must neither fill this queue nor connect to nowhere.
    own = Producer(lambda: config)
    try:
        for n in range(5):
            own.produce_async("orders", {"n": n})
        started = time.monotonic()
        with pytest.raises(ProduceError, match="local queue is full"):
            own.produce_async("orders", {"n": 5})
        assert 0.5 <= time.monotonic() - started < 2
        with pytest.raises(ProduceError, match="message too large"):
            own.produce_async("orders", b"x" * 2_000_000)
    finally:
        own.close(0.1)


def test_the_docs_producing_example_delivers_what_it_says(producing_to):
    from project.shop.tests.docs_blocks import docs_block

    topic = producing_to.create_topic(unique("orders"), 1)
    namespace: dict = {}
    exec(docs_block("from karafka_django import producer").replace('"orders"', repr(topic)), namespace)
    assert namespace["delivery"].wait(10).offset == 1, "produce_sync's message was acknowledged first"
    read = producing_to.read_all(topic)
    assert [(m.key(), json.loads(m.value())) for m in read] == [(b"A-1", {"number": "A-1"}), (None, {"number": "A-2"})]
