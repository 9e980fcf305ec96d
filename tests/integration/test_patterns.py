"""Topic patterns: a route whose topic is a regular expression consumes every topic it matches,
topics created while the server runs too, under the classic and the consumer group protocol."""

import re

import pytest

from tests.integration.harness import unique, wait_until
from tests.testapp.models import Record

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.RecordingConsumer"
#: Classic: librdkafka matches the pattern against the topics of its metadata, refreshed this
#: often (the docs advise lowering the 5-minute default for patterns). KIP-848: the broker matches.
PROTOCOLS = {"classic": {"topic.metadata.refresh.interval.ms": 1000},
             "consumer": {"group.protocol": "consumer", "session.timeout.ms": None}}


def _prefix() -> str:
    return unique("pattern").replace("-", "_")


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_a_pattern_route_consumes_the_topics_it_matches_and_those_created_later(kafka, make_server, protocol):
    prefix = _prefix()
    first, other = kafka.create_topic(f"{prefix}.first", 1), kafka.create_topic(f"{prefix}_other", 1)
    server = make_server([{"topic": f"^{re.escape(prefix)}\\..*", "consumer": CONSUMER}], KAFKA=PROTOCOLS[protocol]).start()
    ends = {first: kafka.produce_json(first, 1, 20)}
    kafka.produce_json(other, 1, 5)
    wait_until(lambda: Record.objects.filter(topic=first).count() == 20, 60, "the matching topic consumed")

    later = kafka.create_topic(f"{prefix}.later", 2)
    ends[later] = kafka.produce_json(later, 2, 30)
    wait_until(lambda: Record.objects.filter(topic=later).count() == 30, 90, "a topic created later consumed, no restart")
    for topic, end in ends.items():
        wait_until(lambda topic=topic, end=end: kafka.committed(make_server.group, topic, len(end)) == end, 30, f"{topic} committed")
    assert not Record.objects.filter(topic=other).exists(), "a topic the pattern does not match is not consumed"
    assert server.stop() == 0


def test_the_routing_page_shows_the_topics_a_pattern_matches_now(kafka, admin_client, producing_to, settings):
    from django.urls import reverse

    prefix = _prefix()
    topics = [kafka.create_topic(f"{prefix}.{name}", 2) for name in ("a", "b")]
    settings.KARAFKA = {**settings.KARAFKA, "ROUTES": [{"topic": f"^{re.escape(prefix)}\\..*", "consumer": CONSUMER},
                                                       {"topic": f"^{re.escape(prefix)}_none$", "consumer": CONSUMER}]}
    html = admin_client.get(reverse("admin:karafka_routing")).content.decode()
    assert f"<td>4 in {topics[0]}, {topics[1]}</td>" in html, "4 partitions over the two topics matched now"
    assert "the pattern matches no topic" in html
