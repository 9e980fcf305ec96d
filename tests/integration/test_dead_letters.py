"""Dead letters replayed after the bug is fixed: each processed once, a second replay replays nothing."""

import json

import pytest
from django.core.management import CommandError, call_command

from tests.integration.harness import unique, wait_until
from tests.testapp.models import Record

pytestmark = pytest.mark.integration


def dlq(capsys, *args) -> str:
    call_command("karafka_dlq", *args)
    return capsys.readouterr().out


def test_replayed_dead_letters_are_processed_once_after_the_fix(kafka, make_server, producing_to, capsys, settings):
    topic, dead = kafka.create_topic(unique("orders"), 1), kafka.create_topic(unique("orders_dlq"), 1)
    kafka.produce(topic, [(0, f"k{n}".encode(), json.dumps({"poison": n in (5, 12)}).encode(), ) for n in range(20)]
                  + [(0, b"k-bin", b"{}")])
    route = {"topic": topic, "dead_letter_queue": {"topic": dead, "max_retries": 0}, "initial_offset": "earliest"}
    buggy = make_server([{**route, "consumer": "tests.testapp.consumers.RecordingConsumer"}], KAFKA={"auto.commit.interval.ms": 200})
    buggy.start()
    wait_until(lambda: kafka.committed(make_server.group, topic, 1) == {0: 21}, 40, "all committed, two dead-lettered")
    assert buggy.stop() == 0
    assert Record.objects.filter(topic=topic).count() == 19

    listing = dlq(capsys, "list", dead)
    assert f"{dead}: 2 dead letters, page 1 of 1" in listing
    assert f"{topic}/0@12" in listing and f"{topic}/0@5" in listing and "builtins.ValueError" in listing
    assert listing.index(f"{topic}/0@12") < listing.index(f"{topic}/0@5"), "newest first"

    settings.KARAFKA = {**settings.KARAFKA, "CLIENT_ID": make_server.group}  # the replay group is <CLIENT_ID>-dlq-replay
    assert "Would replay 2 messages" in dlq(capsys, "replay", dead, "--dry-run")
    assert len(kafka.read_all(topic)) == 21, "a dry run produces nothing"

    fixed = make_server([{**route, "consumer": "tests.testapp.consumers.FixedRecordingConsumer"}], KAFKA={"auto.commit.interval.ms": 200})
    fixed.start()
    assert "Replayed 1 messages" in dlq(capsys, "replay", dead, "--original-offset", f"{topic}:0:12")
    assert "Replayed 0 messages" in dlq(capsys, "replay", dead), "the one before it was passed over, the one after replayed"
    call_command("karafka_groups", "seek", f"{make_server.group}-dlq-replay", dead, "--to", "earliest")
    assert "Replayed 1 messages" in dlq(capsys, "replay", dead, "--original-offset", f"{topic}:0:5")
    assert "Replayed 0 messages" in dlq(capsys, "replay", dead, "--original-offset", f"{topic}:0:5"), "twice replays nothing"
    wait_until(lambda: kafka.committed(make_server.group, topic, 1) == {0: 23}, 40, "the replayed messages committed")
    assert fixed.stop() == 0

    replayed = kafka.read_all(topic)[21:]
    assert [m.key() for m in replayed] == [b"k12", b"k5"]
    assert [dict(m.headers())["replayed_from"] for m in replayed] == [f"{dead}/0/1".encode(), f"{dead}/0/0".encode()]
    assert all("error_class" not in dict(m.headers()) for m in replayed), "the DLQ's own headers are taken off"
    keys = sorted(Record.objects.filter(topic=topic).values_list("key", flat=True))
    assert keys == sorted([f"k{n}" for n in range(20)] + ["k-bin"]), "every message processed exactly once after the fix"

    with pytest.raises(CommandError, match="TOPIC:PARTITION:OFFSET"):
        call_command("karafka_dlq", "replay", dead, "--original-offset", "nope")
