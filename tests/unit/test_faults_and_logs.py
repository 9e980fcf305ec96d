
"""Client faults as states and librdkafka's log lines collapsed (pure logic, no broker)."""

import logging

import pytest
from confluent_kafka import KafkaError

from karafka_django.connection.faults import ClientFaults, brokers_up
from karafka_django.instrumentation import Monitor
from karafka_django.instrumentation.client_logs import CollapseRepeats


def faults_and_events() -> tuple[ClientFaults, list]:
    monitor, events = Monitor(), []
    monitor.subscribe("*", lambda event, payload: events.append((event, payload.get("state") or payload.get("type"))))
    return ClientFaults(monitor, subscription_group="g"), events


def test_a_persistent_outage_is_said_once_when_it_starts_and_once_when_it_ends():
    faults, events = faults_and_events()
    for _ in range(500):
        faults.on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
        faults.on_error(KafkaError(KafkaError._TRANSPORT, "Connect to 127.0.0.1:1 failed"))
    assert faults.state == "down" and faults.down_since is not None
    faults.on_reachable()
    assert events == [("connection.client.state_changed", "down"), ("error.occurred", "connection.client.error"),
                      ("connection.client.state_changed", "up")]


def test_authentication_failure_is_a_failed_state_said_once():
    faults, events = faults_and_events()
    for _ in range(100):
        faults.on_error(KafkaError(KafkaError._AUTHENTICATION, "SASL authentication failed"))
    assert faults.failure.startswith("_AUTHENTICATION")
    assert events == [("connection.client.state_changed", "failed")]


def stats(**states: str) -> dict:
    return {"brokers": {f"b:{9091 + int(n[1:])}/{n[1:]}": {"nodeid": int(n[1:]), "state": state} for n, state in states.items()}}


def test_a_lost_node_is_a_degraded_state_said_when_it_changes():
    faults, events = faults_and_events()
    faults.on_statistics(stats(n1="UP", n2="UP", n3="INIT"))  # never connected to node 3: nothing lost
    for _ in range(50):
        faults.on_statistics(stats(n1="TRY_CONNECT", n2="UP", n3="INIT"))
    assert (faults.state, faults.unreachable) == ("degraded", (1,))
    faults.on_statistics(stats(n1="CONNECT", n2="UP", n3="DOWN"))
    faults.on_statistics(stats(n1="UP", n2="UP", n3="UP"))
    assert events == [("connection.client.state_changed", "degraded"), ("connection.client.state_changed", "degraded"),
                      ("connection.client.state_changed", "up")]
    assert faults.state == "up" and faults.unreachable == ()


def test_brokers_up_reads_librdkafka_statistics():
    assert brokers_up({"brokers": {"b:9092/1": {"nodeid": 1, "state": "UP"}}})
    assert not brokers_up({"brokers": {"b:9092/bootstrap": {"nodeid": -1, "state": "UP"},
                                       "b:9092/1": {"nodeid": 1, "state": "CONNECT"}}})


def test_identical_lines_are_collapsed_and_counted(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("karafka_django.instrumentation.client_logs.time.monotonic", lambda: clock[0])
    collapse = CollapseRepeats(window_s=10)

    def passes(text: str) -> str | None:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, text, (), None)
        return record.getMessage() if collapse.filter(record) else None

    assert passes("Connect to 1 failed (after 3ms in state CONNECT)")
    assert all(passes(f"Connect to 1 failed (after {n}ms in state CONNECT)") is None for n in range(50))
    assert passes("another line")
    clock[0] += 11
    assert passes("Connect to 1 failed (after 9ms in state CONNECT)").endswith("(and 50 identical lines in the last 11s)")


def test_error_payloads_follow_the_setting_else_sentry_2s_send_default_pii_and_never_sentry_3s_defaults(sentry):
    import sentry_sdk

    from karafka_django.instrumentation.privacy import payloads_allowed

    assert payloads_allowed(True) and not payloads_allowed(False)
    assert not payloads_allowed(None), "no Sentry client: no message content"
    if sentry_sdk.VERSION.startswith("2."):
        sentry(send_default_pii=True)
        assert payloads_allowed(None) and not payloads_allowed(False)
    else:  # 3.x has no send_default_pii, and collects queues and frame variables unless told not to
        with pytest.raises(TypeError):
            sentry(send_default_pii=True)
        sentry()
        assert sentry_sdk.get_client().is_active()
        assert not payloads_allowed(None), "sentry-sdk 3 with its defaults: no message content"
        assert payloads_allowed(True)
