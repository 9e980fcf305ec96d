"""The process-wide producer: thread-safe, one client per process, JSON for dicts."""

import json
import threading

import pytest

from karafka_django import producer
from tests.integration.harness import unique

pytestmark = pytest.mark.integration


@pytest.fixture
def producing_to(kafka, settings):
    settings.KARAFKA = {**settings.KARAFKA, "KAFKA": {"bootstrap.servers": kafka.bootstrap_servers}}
    yield kafka
    producer.close()


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
