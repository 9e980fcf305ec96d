"""Declarative topics against the broker: migrate creates, a second run changes nothing, plan shows drift."""

import json
import subprocess
import sys

import pytest
from confluent_kafka.admin import ConfigResource, NewTopic

from tests.integration.harness import ROOT, unique

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.RecordingConsumer"


def karafka_topics(server_env, routes, *args):
    env = {**server_env, "KARAFKA_TEST_OVERRIDES": json.dumps({"ROUTES": routes})}
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), "karafka_topics", *args],
                          env=env, capture_output=True, text=True, cwd=ROOT)


def test_migrate_creates_then_changes_nothing_and_plan_shows_config_drift(kafka, server_env):
    orders, audit = unique("declared-orders"), unique("declared-audit")
    routes = [
        {"topic": orders, "consumer": CONSUMER, "config": {"partitions": 6, "retention.ms": "604800000"}},
        {"topic": audit, "consumer": CONSUMER, "config": {"partitions": 2}},
    ]
    first = karafka_topics(server_env, routes, "migrate")
    assert first.returncode == 0, first.stderr
    assert f"create          {orders}: 6 partitions" in first.stdout and "Applied 2 changes." in first.stdout
    topics = kafka.admin.list_topics(timeout=10).topics
    assert len(topics[orders].partitions) == 6 and len(topics[audit].partitions) == 2

    second = karafka_topics(server_env, routes, "migrate")
    assert second.returncode == 0 and "No changes: 2 declared topics match the cluster." in second.stdout

    drifted = unique("drifted")
    for future in kafka.admin.create_topics([NewTopic(drifted, 3, 1, config={"retention.ms": "1000"})]).values():
        future.result(15)
    routes.append({"topic": drifted, "consumer": CONSUMER, "config": {"partitions": 2, "retention.ms": "86400000"}})
    plan = karafka_topics(server_env, routes, "plan")
    assert f"alter_config    {drifted}: retention.ms: 1000 -> 86400000" in plan.stdout
    assert f"refused         {drifted}: declares 2 partitions but has 3" in plan.stdout
    refused = karafka_topics(server_env, routes, "migrate")
    assert refused.returncode != 0 and "cannot be made by Kafka" in refused.stderr

    # What Kafka can do, migrate applies: more partitions and the changed config.
    routes[-1]["config"] = {"partitions": 4, "retention.ms": "86400000"}
    applied = karafka_topics(server_env, routes, "migrate")
    assert applied.returncode == 0, applied.stderr
    assert f"add_partitions  {drifted}: 3 -> 4" in applied.stdout
    assert len(kafka.admin.list_topics(drifted, timeout=10).topics[drifted].partitions) == 4
    resource = ConfigResource(ConfigResource.Type.TOPIC, drifted)
    described = kafka.admin.describe_configs([resource])[resource].result(15)
    assert described["retention.ms"].value == "86400000"
    assert "No changes" in karafka_topics(server_env, routes, "plan").stdout
