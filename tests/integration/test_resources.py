"""karafka_info's figures against what a running server really uses (psutil, pg_stat_activity)."""

import json
import subprocess
import sys

import pytest

from karafka_django.brokers import free_port
from karafka_django.resources import measure
from tests.integration.harness import ROOT, wait_until
from tests.testapp.models import Record

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.RecordingConsumer"
#: Threads may differ from the estimate by this much (a librdkafka thread starting or ending).
THREAD_TOLERANCE = 1


def test_karafka_info_matches_a_running_server(kafka, make_server, server_env, broker, db_connections):
    topics = [kafka.backlog(name, 3, 3000)[0] for name in ("a", "b")]
    routes = [{"topic": t, "consumer": CONSUMER, "consumer_group": f"{make_server.group}-{n}", "subscription_group": f"sg{n}"}
              for n, t in enumerate(topics)]
    overrides = {"ROUTES": routes, "CONCURRENCY": 3, "MAX_MESSAGES": 20}
    server = make_server(routes, CONCURRENCY=3, MAX_MESSAGES=20, args=["--metrics-port", str(free_port())]).start()
    sampler = db_connections(server)
    server.wait_assigned(subscription_groups=2)
    wait_until(lambda: Record.objects.count() >= 3000, 60, "processing under way")
    live = measure(server.pid, broker.ports)
    wait_until(lambda: Record.objects.count() >= 6000, 60, "every message")
    db_peak = sampler.stop()
    assert server.stop() == 0

    info = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "karafka_info", "--format", "json", "--metrics", "--no-producer"],
        env={**server_env, "KARAFKA_TEST_OVERRIDES": json.dumps(overrides)}, capture_output=True, text=True, check=True,
    )
    estimate = json.loads(info.stdout)["resources"]
    assert estimate["brokers"] == 1 and estimate["subscription_groups"] == 2
    assert live.tcp_connections == estimate["tcp_connections_per_process"] == 2 * (1 + 1)
    assert abs(live.threads - estimate["threads_per_process"]) <= THREAD_TOLERANCE, (live.threads, estimate["threads"])
    assert 2 <= db_peak <= estimate["db_connections_per_process"] == 3 + 2
