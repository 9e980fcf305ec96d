"""Settings parsing, routing and the karafka.E0xx system checks."""

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from karafka_django import BaseConsumer
from karafka_django.conf import get_config, parse
from karafka_django.routing import build_routing

CONSUMER = "tests.testapp.consumers.RecordingConsumer"
BASE = {"KAFKA": {"bootstrap.servers": "k:9092"}}


def ids(karafka: dict) -> list[str]:
    with override_settings(KARAFKA=karafka):
        return sorted(m.id for m in run_checks(tags=["karafka"]))


def test_defaults_and_librdkafka_defaults_that_the_user_can_override():
    config = parse({"KAFKA": {"bootstrap.servers": "k:9092", "fetch.queue.backoff.ms": 500}, "CLIENT_ID": "shop"})
    assert (config.concurrency, config.max_messages, config.max_wait_time_ms, config.shutdown_timeout_ms) == (5, None, 1000, 60000)
    assert config.kafka["enable.auto.offset.store"] is False
    assert config.kafka["fetch.queue.backoff.ms"] == 500
    assert config.kafka["client.id"] == "shop"
    assert not config.problems


INVALID_SETTINGS = [
    ({"KAFKA": {}}, ["karafka.E004"]),
    ({**BASE, "CONCURRENCY": 0}, ["karafka.E005"]),
    ({**BASE, "CONCURRENCY": "4"}, ["karafka.E005"]),
    ({**BASE, "CONCURENCY": 4}, ["karafka.E002"]),
    ({**BASE, "ROUTES": [{"topic": "a", "consumer": "tests.testapp.consumers.Nope"}]}, ["karafka.E020"]),
    ({**BASE, "ROUTES": [{"topic": "a", "consumer": "tests.testapp.models.Record"}]}, ["karafka.E021"]),
    ({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER}, {"topic": "a", "consumer": CONSUMER}]}, ["karafka.E024"]),
    ({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER, "subscription_grup": "x"}]}, ["karafka.E011"]),
    ({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER, "initial_offset": "first"}]}, ["karafka.E023"]),
    ({**BASE, "ROUTES": [{"topic": "a"}]}, ["karafka.E012"]),
    (
        {**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER}, {"topic": "b", "consumer": CONSUMER, "initial_offset": "latest"}]},
        ["karafka.E025"],
    ),
    ({**BASE, "ROUTES": []}, ["karafka.W001"]),
    ({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER, "dead_letter_queue": "a.dlq"}]}, ["karafka.E030"]),
    ({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER, "dead_letter_queue": {"topic": "d", "retries": 1}}]}, ["karafka.E031"]),
    ({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER, "dead_letter_queue": {"max_retries": 1}}]}, ["karafka.E032"]),
    ({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER, "dead_letter_queue": {"topic": "a"}}]}, ["karafka.E033"]),
    ({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER, "dead_letter_queue": {"topic": "d", "max_retries": -1}}]},
     ["karafka.E034"]),
    ({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER, "dead_letter_queue": {"topic": "d", "independent": "no"}}]},
     ["karafka.E035"]),
    ({**BASE, "PRODUCER": "fast"}, ["karafka.E014"]),
    ({**BASE, "REPORTING": "yes"}, ["karafka.E072"]),
    ({**BASE, "REPORTS_TOPIC": "reports/all"}, ["karafka.E073"]),
    ({**BASE, "REPORT_INTERVAL_MS": 0}, ["karafka.E097"]),
    ({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER, "offset_storage": "redis"}]}, ["karafka.E026"]),
    ({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER, "offset_storage": "database", "database": "main"}]},
     ["karafka.E027"]),
    ({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER, "database": "default"}]}, ["karafka.E027"]),
    ({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER, "offset_storage": "database",
                          "virtual_partitions": {"partitioner": "tests.testapp.consumers.by_key"}}]}, ["karafka.E028"]),
    ({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER, "offset_storage": "database", "manual_offset_management": True,
                          "dead_letter_queue": {"topic": "d"}}]}, ["karafka.E029"]),
    ({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER, "transactional": "yes"}]}, ["karafka.E049"]),
    ({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER, "transactional": True, "offset_storage": "database"}]},
     ["karafka.E049"]),
    ({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER, "transactional": True,
                          "virtual_partitions": {"partitioner": "tests.testapp.consumers.by_key"}}]}, ["karafka.E049"]),
]


@pytest.mark.parametrize("karafka, expected", INVALID_SETTINGS, ids=[",".join(e) or "clean" for _, e in INVALID_SETTINGS])
def test_invalid_settings_fail_the_checks(karafka, expected):
    assert ids(karafka) == expected


def test_every_setting_has_a_check_id_of_its_own_and_a_field():
    from dataclasses import fields

    from karafka_django.conf import SETTINGS, KarafkaConfig

    check_ids = [s.check_id for s in SETTINGS]
    assert len(set(check_ids)) == len(check_ids)
    derived = {"kafka", "producer_kafka", "problems"}  # KAFKA and PRODUCER become the clients' settings
    assert {s.key.lower() for s in SETTINGS} - {"kafka", "producer"} == {f.name for f in fields(KarafkaConfig)} - derived


def test_dead_letter_queue_settings():
    routing = build_routing(parse({**BASE, "ROUTES": [
        {"topic": "a", "consumer": CONSUMER, "dead_letter_queue": {"topic": "a.dlq", "max_retries": 2, "independent": True}},
        {"topic": "b", "consumer": CONSUMER, "dead_letter_queue": {"topic": False}},
    ]}))
    a, b = routing.routes
    assert (a.dead_letter_queue.topic, a.dead_letter_queue.max_retries, a.dead_letter_queue.independent) == ("a.dlq", 2, True)
    assert b.dead_letter_queue.topic is None, "topic False: skip after the retries, explicitly"


def test_producer_settings_leave_consumer_only_keys_out():
    config = parse({"KAFKA": {"bootstrap.servers": "k:9092", "session.timeout.ms": 6000, "linger.ms": 5},
                    "PRODUCER": {"linger.ms": 50}})
    assert config.producer_kafka == {"client.id": "karafka", "message.timeout.ms": 5000, "bootstrap.servers": "k:9092", "linger.ms": 50}


def test_unknown_route_key_suggests_the_right_one():
    with override_settings(KARAFKA={**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER, "subscription_grup": "x"}]}):
        [message] = run_checks(tags=["karafka"])
    assert message.hint == "Did you mean 'subscription_group'?"


def test_manage_py_check_fails_on_errors():
    with override_settings(KARAFKA={"KAFKA": {}}), pytest.raises(SystemCheckError, match="karafka.E004"):
        call_command("check")


def test_the_same_topic_in_two_consumer_groups_is_fine_and_groups_split_as_declared():
    karafka = {**BASE, "CLIENT_ID": "app", "ROUTES": [
        {"topic": "a", "consumer": CONSUMER},
        {"topic": "a", "consumer": CONSUMER, "consumer_group": "audit"},
        {"topic": "b", "consumer": CONSUMER, "subscription_group": "slow"},
        {"topic": "c", "consumer": CONSUMER, "active": False},
    ]}
    routing = build_routing(parse(karafka))
    assert not routing.problems
    assert [(sg.consumer_group, sg.name, sg.topics) for sg in routing.subscription_groups] == [
        ("app", "app", ["a", "c"]), ("app", "slow", ["b"]), ("audit", "audit", ["a"]),
    ]
    assert [sg.topics for sg in routing.select()] == [["a"], ["b"], ["a"]]
    assert [sg.topics for sg in routing.select(consumer_groups=["app"], topics=["b"])] == [["b"]]
    kafka = routing.subscription_groups[0].kafka_config(parse(karafka).kafka)
    assert kafka["group.id"] == "app" and kafka["auto.offset.reset"] == "earliest"


def test_decorated_routes_merge_with_settings_routes():
    from karafka_django.routing import registry

    class Decorated(BaseConsumer):
        pass

    before = list(registry._declared)
    try:
        registry.route("decorated", subscription_group="deco")(Decorated)
        routing = build_routing(parse({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER}]}))
    finally:
        registry._declared[:] = before
    assert {(r.topic, r.consumer_class) for r in routing.routes} >= {("decorated", Decorated)}
    assert len(routing.routes) == 2


def test_config_is_reread_when_settings_change():
    with override_settings(KARAFKA={**BASE, "CONCURRENCY": 7}):
        assert get_config().concurrency == 7
    assert get_config().concurrency == 4


DELIVERY_SETTINGS = [
    ({"enable.auto.offset.store": True}, ["karafka.E060"]),
    ({"enable.auto.commit": "false"}, ["karafka.W060"]),
    ({"auto.offset.reset": "latest"}, ["karafka.W061"]),
    ({"auto.offset.reset": "smallest"}, []),
]


@pytest.mark.parametrize("kafka, expected", DELIVERY_SETTINGS, ids=[",".join(e) or "clean" for _, e in DELIVERY_SETTINGS])
def test_settings_that_break_the_delivery_contract_are_flagged(kafka, expected):
    karafka = {"KAFKA": {"bootstrap.servers": "k:9092", **kafka}, "ROUTES": [{"topic": "a", "consumer": CONSUMER}]}
    assert ids(karafka) == expected


def test_a_static_member_id_is_distinct_per_subscription_group_and_swarm_node():
    config = parse({"KAFKA": {"bootstrap.servers": "k:9092", "group.instance.id": "host-7"},
                    "ROUTES": [{"topic": "a", "consumer": CONSUMER},
                               {"topic": "b", "consumer": CONSUMER, "subscription_group": "slow"}]})
    groups = build_routing(config).subscription_groups
    assert [g.kafka_config(config.kafka)["group.instance.id"] for g in groups] == ["host-7-karafka", "host-7-slow"]
    assert groups[1].kafka_config(config.kafka, node=2)["group.instance.id"] == "host-7-slow-node2"
    assert "group.instance.id" not in groups[0].kafka_config({"bootstrap.servers": "k:9092"})


def test_offsets_in_the_database_are_a_route_option():
    routes = [{"topic": "a", "consumer": CONSUMER, "offset_storage": "database"}, {"topic": "b", "consumer": CONSUMER}]
    with override_settings(KARAFKA={**BASE, "ROUTES": routes}):
        stored, default = build_routing(get_config()).routes
    assert (stored.offsets_in_database, stored.database) == (True, "default")
    assert (default.offsets_in_database, default.offset_storage) == (False, "kafka")


def test_transient_errors_must_be_lists_of_exception_classes():
    route = {"topic": "t", "consumer": "tests.testapp.consumers.RecordingConsumer"}
    assert "karafka.E013" in ids({**BASE, "TRANSIENT_ERRORS": ["json.loads"], "ROUTES": [route]})
    assert "karafka.E036" in ids({**BASE, "ROUTES": [{**route, "transient_errors": "not-a-list"}]})
    assert "karafka.E036" in ids({**BASE, "ROUTES": [{**route, "transient_errors": ["no.such.Error"]}]})
    assert ids({**BASE, "TRANSIENT_ERRORS": ["builtins.TimeoutError"],
                "ROUTES": [{**route, "transient_errors": ["tests.testapp.consumers.ServiceUnavailable"]}]}) == []


def test_the_consumer_group_protocol_per_process_or_per_subscription_group_and_its_classic_only_settings():
    from karafka_django.routing.group_protocol import incremental

    consumer = {"group.protocol": "consumer"}
    routes = [{"topic": "a", "consumer": CONSUMER}, {"topic": "b", "consumer": CONSUMER, "subscription_group": "new",
                                                   "kafka": consumer}]
    config = parse({**BASE, "ROUTES": routes})
    classic, new = build_routing(config).subscription_groups
    assert (incremental(classic.kafka_config(config.kafka)), incremental(new.kafka_config(config.kafka))) == (False, True)
    assert "group.protocol" not in config.producer_kafka
    assert ids({**BASE, "ROUTES": routes}) == []
    assert ids({"KAFKA": {**BASE["KAFKA"], **consumer, "session.timeout.ms": 6000}, "ROUTES": routes[:1]}) == ["karafka.E039"]
    with override_settings(KARAFKA={"KAFKA": {**BASE["KAFKA"], "heartbeat.interval.ms": 500}, "ROUTES": routes}):
        [problem] = run_checks(tags=["karafka"])
    assert (problem.id, "heartbeat.interval.ms" in problem.msg, "group.consumer.heartbeat.interval.ms" in problem.msg) == (
        "karafka.E039", True, True), "names the setting and its broker-side counterpart; only the 'new' group has it"
    assert ids({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER, "kafka": {"group.protocol": "kip848"}}]}) == ["karafka.E038"]
    assert ids({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER, "kafka": {"group.remote.assignor": "uniform"}}]}) == [
        "karafka.E039"]
    assert ids({**BASE, "ROUTES": [routes[0], {**routes[1], "subscription_group": "karafka"}]}) == ["karafka.E037"], \
        "one consumer: the routes of a subscription group agree on kafka"
    assert ids({**BASE, "ROUTES": [{"topic": "a", "consumer": CONSUMER, "kafka": ["group.protocol"]}]}) == ["karafka.E037"]


def test_a_route_topic_that_starts_with_a_caret_is_a_pattern():
    routes = [{"topic": "^orders.*", "consumer": CONSUMER}, {"topic": "orders", "consumer": CONSUMER}]
    [group] = build_routing(parse({**BASE, "ROUTES": routes})).subscription_groups
    pattern, exact = group.routes
    assert group.route_for("orders") is exact, "a topic a route names is that route's, though a pattern comes first"
    assert group.route_for("orders.eu") is pattern and not pattern.matches("eu.orders") and not exact.is_pattern
    with pytest.raises(KeyError):
        group.route_for("payments")
    assert ids({**BASE, "ROUTES": [{"topic": "^orders(", "consumer": CONSUMER}]}) == ["karafka.E048"]
    assert ids({**BASE, "ROUTES": [{"topic": "^orders", "consumer": CONSUMER, "config": {"partitions": 3}}]}) == ["karafka.E048"]
