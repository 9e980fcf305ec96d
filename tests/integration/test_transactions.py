"""Kafka transactions (a route's ``transactional``): consume-transform-produce exactly once,
against Apache Kafka, with real crashes (SIGKILL) and what readers of each isolation level see."""

import json
import random
from collections import Counter

import pytest

from tests.integration.harness import unique, wait_until

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.DerivingConsumer"
#: Kafka's committed offset lags far behind processing without a transaction (as between
#: auto-commits), so every kill of a plain route leaves produced results whose offsets are not
#: committed: only a transaction keeps them from being produced again.
SLOW_KAFKA_COMMITS = {"auto.commit.interval.ms": 60000}


def sources(messages: list) -> Counter:
    """How often each source (partition, offset) appears among the derived messages."""
    return Counter((body["partition"], body["offset"]) for body in (json.loads(m.value()) for m in messages))


@pytest.mark.matrix
@pytest.mark.parametrize("transactional", [True, False], ids=["transactional", "plain"])
def test_sigkill_at_random_moments_a_read_committed_reader_sees_each_result_once_only_with_transactions(
        kafka, make_server, transactional):
    topic, _ = kafka.backlog(unique("derive"), 3, 3000, {"sleep": 0.002})
    output = kafka.create_topic(f"{topic}.out", 3)
    route = {"topic": topic, "consumer": CONSUMER, "transactional": transactional}
    # A stable identity: a restarted server takes its transactional ids back and aborts at once
    # what the killed one left open (and its static member gets its partitions back).
    settings = {"MAX_MESSAGES": 50, "KAFKA": {**SLOW_KAFKA_COMMITS, "group.instance.id": "host-1"}}
    chance = random.Random(topic)  # random moments, reproducible from the topic name in the log

    def produced() -> int:  # what reached the output log, committed or not
        return sum(kafka.ends(output, 3).values())

    for _ in range(3):
        server = make_server([route], **settings).start()
        target = produced() + chance.randint(100, 600)
        wait_until(lambda target=target: produced() >= target, 90, "a part of the backlog processed")
        server.kill()
    final = make_server([route], **settings).start()
    wait_until(lambda: len(sources(kafka.read_all(output))) == 3000, 120, "every input's result readable")
    assert final.stop() == 0
    seen = sources(kafka.read_all(output))
    if transactional:
        assert set(seen.values()) == {1}, f"results seen twice: {[s for s, n in seen.items() if n > 1][:10]}"
        assert sum(seen.values()) < len(kafka.read_all(output, isolation="read_uncommitted")), \
            "the kills left aborted results (the test can tell)"
    else:
        assert max(seen.values()) > 1, "at-least-once: the kills caused duplicates (the test can tell)"


def test_an_aborted_batch_is_invisible_to_read_committed_and_its_dead_letter_commits_with_the_offset(kafka, make_server):
    """A message raises after its batch produced results: the transaction aborts (twice, then
    the message alone, then it is dead-lettered). read_committed readers see each other input's
    result once and none of the failing one's; read_uncommitted readers see the aborted ones."""
    topic = kafka.create_topic(unique("aborts"), 1)
    output, dlq = kafka.create_topic(f"{topic}.out", 1), kafka.create_topic(f"{topic}.dlq", 1)
    kafka.produce(topic, [(0, str(i).encode(), json.dumps({"poison": i == 5}).encode()) for i in range(10)])
    route = {"topic": topic, "consumer": CONSUMER, "transactional": True,
             "dead_letter_queue": {"topic": dlq, "max_retries": 1}}
    server = make_server([route], MAX_MESSAGES=10).start()
    wait_until(lambda: kafka.committed(make_server.group, topic, 1) == {0: 10}, 60, "the batch and its dead letter committed")
    assert server.stop() == 0

    committed = sources(kafka.read_all(output))
    assert committed == {(0, offset): 1 for offset in range(10) if offset != 5}
    uncommitted = sources(kafka.read_all(output, isolation="read_uncommitted"))
    assert uncommitted[(0, 5)] >= 2 and uncommitted[(0, 0)] >= 2, "the aborted attempts were written, then aborted"
    [dead] = kafka.read_all(dlq)
    assert dead.offset() is not None and dict(dead.headers())["original_offset"] == b"5"
