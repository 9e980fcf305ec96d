"""A SASL-protected Apache Kafka (SASL/PLAIN, static users): the commands that reach the cluster
(topics, info, groups, dead letters) say a wrong password in the server's own words, and the right one connects."""

import re

import pytest
from django.core.management import CommandError, call_command

from tests.integration.harness import unique

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.RecordingConsumer"


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    from karafka_django.brokers.kafka import KafkaCluster

    with KafkaCluster(data_dir=tmp_path_factory.mktemp("sasl"), heap="384m", sasl_users={"app": "app-secret"}) as running:
        yield running


def credentials(password: str) -> dict:
    return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.username": "app", "sasl.password": password}


def failure(text: str) -> str:
    """The authentication failure named in ``text``, its timings left out."""
    found = re.search(r"_AUTHENTICATION: .*?SASL authentication error: [^(\n\"]*", text)
    assert found, text
    return found.group(0).strip()


def test_a_wrong_password_is_one_line_in_the_servers_words_and_the_right_one_connects(
        secured, settings, make_server, server_env, capsys):
    topic = unique("secured")
    route = {"topic": topic, "consumer": CONSUMER, "config": {"partitions": 2}}
    kafka = {**settings.KARAFKA["KAFKA"], "bootstrap.servers": secured.bootstrap_servers}
    settings.KARAFKA = {**settings.KARAFKA, "KAFKA": {**kafka, **credentials("wrong")}, "ROUTES": [route]}
    with pytest.raises(CommandError) as topics_refused:
        call_command("karafka_topics", "plan")
    with pytest.raises(CommandError) as info_refused:
        call_command("karafka_info")
    with pytest.raises(CommandError) as groups_refused:
        call_command("karafka_groups", "list")
    with pytest.raises(CommandError) as dlq_refused:
        call_command("karafka_dlq", "list", topic)
    refusals = [str(refused.value) for refused in (topics_refused, info_refused, groups_refused, dlq_refused)]

    server_env["KAFKA_BOOTSTRAP_SERVERS"] = secured.bootstrap_servers
    server = make_server([route], KAFKA=credentials("wrong")).start()
    assert server.process.wait(60) == 3
    said = failure(server.log())
    assert [failure(refusal) for refusal in refusals] == [said] * 4
    assert not [refusal for refusal in refusals if "\n" in refusal]

    settings.KARAFKA = {**settings.KARAFKA, "KAFKA": {**kafka, **credentials("app-secret")}}
    call_command("karafka_topics", "migrate")
    call_command("karafka_info")
    out = capsys.readouterr().out
    assert f"create          {topic}: 2 partitions" in out and f"{topic} (2 partitions)" in out
