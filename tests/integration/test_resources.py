"""karafka_info's figures against what a running server really uses (psutil, pg_stat_activity)."""

import json
import subprocess
import sys

import pytest

import karafka_django
from karafka_django.brokers import free_port
from karafka_django.instrumentation.resources import measure
from tests.integration.harness import ROOT, unique, wait_until
from tests.testapp.models import Record

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.RecordingConsumer"
#: Threads may differ from the estimate by this much (a librdkafka thread starting or ending).
THREAD_TOLERANCE = 1


@pytest.mark.parametrize("brokers, subscription_groups, producing", [(1, 2, False), (3, 1, False), (3, 3, False), (3, 1, True)])
def test_karafka_info_matches_a_running_server(brokers, subscription_groups, producing, request, make_server, server_env,
                                                db_connections):
    """Each subscription group's consumer holds a connection to each broker plus the coordinator's;
    on three nodes the partitions' leaders are spread, so every node is reached. The producer (here
    dead-lettering to a topic led by every node) holds one connection per broker."""
    if brokers == 1:
        broker, kafka = request.getfixturevalue("broker"), request.getfixturevalue("kafka")
    else:
        broker, kafka = request.getfixturevalue("three_nodes")
    topics = []
    for n in range(subscription_groups):
        topic = kafka.create_topic(unique(f"sg{n}"), 3, replicas=brokers)
        kafka.produce(topic, ((i % 3, str(i).encode(), json.dumps({"poison": producing and i % 50 == 0}).encode())
                              for i in range(3000)))
        topics.append(topic)
    dlq = kafka.create_topic(unique("dlq"), 3, replicas=brokers) if producing else None
    routes = [{"topic": t, "consumer": CONSUMER, "consumer_group": f"{make_server.group}-{n}", "subscription_group": f"sg{n}",
               **({"dead_letter_queue": {"topic": dlq, "max_retries": 0}} if producing else {})}
              for n, t in enumerate(topics)]
    overrides = {"ROUTES": routes, "CONCURRENCY": 3, "MAX_MESSAGES": 20}
    server = make_server(routes, CONCURRENCY=3, MAX_MESSAGES=20, args=["--metrics-port", str(free_port())]).start()
    sampler = db_connections(server)
    server.wait_assigned(subscription_groups=subscription_groups)
    total = (2940 if producing else 3000) * subscription_groups
    wait_until(lambda: Record.objects.count() >= total // 2, 60, "processing under way")
    if producing:
        wait_until(lambda: all(end > 0 for end in kafka.ends(dlq, 3).values()), 60, "dead letters on every DLQ partition")
    # librdkafka opens a broker connection when it first needs that broker (a leader to fetch from,
    # the coordinator): on a loaded machine the last one may come a moment after processing began.
    expected_tcp = subscription_groups * (brokers + 1) + (brokers if producing else 0)
    live = wait_until(lambda: (m := measure(server.pid, broker.ports)).tcp_connections >= expected_tcp and m, 30,
                      "every broker connection open")
    wait_until(lambda: Record.objects.count() >= total, 60, "every message")
    db_peak = sampler.stop()
    assert server.stop() == 0

    info = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "karafka_info", "--format", "json", "--metrics",
         *([] if producing else ["--no-producer"])],
        env={**server_env, "KARAFKA_TEST_OVERRIDES": json.dumps(overrides)}, capture_output=True, text=True, check=True,
    )
    estimate = json.loads(info.stdout)["resources"]
    assert estimate["brokers"] == brokers and estimate["subscription_groups"] == subscription_groups
    assert live.tcp_connections == estimate["tcp_connections_per_process"] == expected_tcp
    assert abs(live.threads - estimate["threads_per_process"]) <= THREAD_TOLERANCE, (live.threads, estimate["threads"])
    assert 2 <= db_peak <= estimate["db_connections_per_process"] == 3 + subscription_groups


def test_karafka_info_counts_the_transactional_producers_of_a_running_server(three_nodes, make_server, server_env):
    """A transactional route: CONCURRENCY transactional producers, made at start, each with a
    connection to every broker (the outputs' leaders are spread) and its transaction coordinator's."""
    broker, kafka = three_nodes
    topic = kafka.create_topic(unique("tx"), 3, replicas=3)
    output = kafka.create_topic(f"{topic}.out", 3, replicas=3)
    kafka.produce(topic, ((i % 3, str(i).encode(), b'{"sleep": 0.002}') for i in range(3000)))
    routes = [{"topic": topic, "consumer": "tests.testapp.consumers.DerivingConsumer", "transactional": True}]
    server = make_server(routes, CONCURRENCY=3, MAX_MESSAGES=20).start()
    server.wait_assigned()
    wait_until(lambda: sum(kafka.ends(output, 3).values()) >= 1000, 60, "results produced")
    live = measure(server.pid, broker.ports)
    assert server.stop() == 0

    info = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "karafka_info", "--format", "json", "--no-producer"],
        env={**server_env, "KARAFKA_TEST_OVERRIDES": json.dumps({"ROUTES": routes, "CONCURRENCY": 3})},
        capture_output=True, text=True, check=True,
    )
    estimate = json.loads(info.stdout)["resources"]
    assert json.loads(info.stdout)["version"] == karafka_django.__version__ != "0+unknown"
    assert estimate["transactional_producers"] == 3
    assert live.tcp_connections == estimate["tcp_connections_per_process"] == 1 * (3 + 1) + 3 * (3 + 1)
    assert abs(live.threads - estimate["threads_per_process"]) <= THREAD_TOLERANCE, (live.threads, estimate["threads"])
