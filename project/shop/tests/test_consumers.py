"""The shop's consumers, tested the way a Django team would: without a broker, with the
``karafka`` fixture, and once against the real broker so the two cannot drift apart."""

import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from django.db import connection

from karafka_django.testing.factories import MessageFactory
from project.shop.models import Order, Payment

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.django_db


def test_an_order_event_becomes_an_order_row(karafka):
    karafka.produce("orders", {"number": "A-1", "customer": "ada", "total": "12.50"}, key="A-1", partition=2)
    karafka.consume()
    order = Order.objects.get(number="A-1")
    assert (order.customer, order.total, order.kafka_partition, order.kafka_offset) == ("ada", Decimal("12.50"), 2, 0)
    assert karafka.committed("orders", 2) == 1


def test_redelivered_orders_are_written_once(karafka):
    for _ in range(2):
        karafka.produce("orders", {"number": "A-2", "customer": "bob", "total": 3}, key="A-2")
    karafka.consume()
    assert Order.objects.filter(number="A-2").count() == 1


def test_a_payment_marks_its_order_paid_whichever_arrives_first(karafka):
    karafka.produce("payments", {"order_number": "A-3", "amount": 5, "reference": "P-3"})
    karafka.consume("payments")
    karafka.produce("orders", {"number": "A-3", "customer": "cy", "total": 5})
    karafka.consume("orders")
    assert Order.objects.get(number="A-3").paid
    assert Payment.objects.filter(reference="P-3").count() == 1


def test_a_bad_order_raises_and_is_retried_by_the_next_consume(karafka):
    karafka.produce("orders", {"number": "A-4"})  # no customer, no total
    with pytest.raises(KeyError):
        karafka.consume()
    assert karafka.committed("orders") is None
    assert karafka.coordinator("orders", 0).pause.attempt == 1


def test_a_view_produces_through_the_shared_producer(karafka, client):
    response = client.post("/orders/", {"customer": "dee", "total": "7"}, content_type="application/json")
    assert response.status_code == 201
    [produced] = karafka.produced_messages
    assert produced.topic == "orders" and produced.payload["customer"] == "dee"


def test_message_factory_builds_what_consumers_receive():
    message = MessageFactory(payload={"id": 7}, traced=True)
    assert message.payload == {"id": 7} and message.headers == {"trace_id": "00f067aa0ba902b7"}
    assert MessageFactory(tombstone=True).payload is None


@pytest.mark.django_db(transaction=True)
def test_the_same_consumers_against_the_real_broker(broker):
    """The fixture's promise, checked once for real: a server writes the same rows."""
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    existing = admin.list_topics(timeout=10).topics
    for future in admin.create_topics([NewTopic(t, 3, 1) for t in ("orders", "payments") if t not in existing]).values():
        future.result(15)
    db = connection.settings_dict
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers, "KAFKA_SESSION_TIMEOUT_MS": "6000",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    server = subprocess.Popen([sys.executable, "manage.py", "karafka_server"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        subprocess.run([sys.executable, "manage.py", "shop_feed", "--count", "50", "--rate", "1000"], cwd=ROOT, env=env,
                       check=True, capture_output=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (Order.objects.count() < 50 or Order.objects.filter(paid=True).count() < 40):
            time.sleep(0.2)
    finally:
        server.terminate()
        assert server.wait(30) == 0
    assert Order.objects.count() == 50 and Order.objects.filter(paid=True).count() == 40
