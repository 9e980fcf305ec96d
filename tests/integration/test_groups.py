"""Consumer-group offsets from the command line (karafka_groups) and seeking by time from a consumer."""

import json
import time
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from tests.integration.harness import unique, wait_until
from tests.testapp.models import Record

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.RecordingConsumer"


def stamped_backlog(kafka, topic: str, partitions: int, old: int, new: int) -> tuple[datetime, dict[int, int], dict[int, int]]:
    """``old`` messages per partition stamped an hour ago, then ``new`` stamped from now on.
    Returns the boundary time, the first new offset and the end offset of each partition."""
    now_ms = int(time.time() * 1000)
    boundary = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    messages = [(p, b"k", b"{}", now_ms - 3_600_000 + n) for p in range(partitions) for n in range(old)]
    messages += [(p, b"k", b"{}", now_ms + n) for p in range(partitions) for n in range(new)]
    ends = kafka.produce(topic, messages)
    return boundary, {p: old for p in range(partitions)}, ends


def groups(capsys, *args) -> str:
    call_command("karafka_groups", *args)
    return capsys.readouterr().out


@pytest.mark.matrix  # a long crash/fault scenario: one Python/Django pair runs it
def test_seek_by_time_refuses_a_running_group_then_a_restart_starts_at_that_time(kafka, make_server, producing_to, capsys):
    topic = kafka.create_topic(unique("seek"), 2)
    boundary, first_new, ends = stamped_backlog(kafka, topic, 2, old=300, new=40)
    route = {"topic": topic, "consumer": CONSUMER}
    group = make_server.group
    server = make_server([route], KAFKA={"auto.commit.interval.ms": 200}).start()
    wait_until(lambda: kafka.committed(group, topic, 2) == ends, 40, "the whole backlog committed")

    with pytest.raises(CommandError, match=f"'{group}' is stable.*stop its servers first"):
        call_command("karafka_groups", "seek", group, topic, "--to-time", boundary.isoformat())
    assert kafka.committed(group, topic, 2) == ends, "nothing changed while the group was live"
    assert server.stop() == 0

    dry = groups(capsys, "seek", group, topic, "--to-time", boundary.isoformat(), "--dry-run")
    assert f"{group} {topic}/0: {ends[0]} -> {first_new[0]}" in dry and "Dry run" in dry
    assert kafka.committed(group, topic, 2) == ends, "a dry run changes nothing"
    done = groups(capsys, "seek", group, topic, "--to-time", boundary.isoformat())
    assert f"Committed 2 offsets for '{group}'" in done
    assert kafka.committed(group, topic, 2) == first_new

    Record.objects.all().delete()
    server.start()
    wait_until(lambda: kafka.committed(group, topic, 2) == ends, 40, "the new messages processed again")
    assert server.stop() == 0
    for partition in range(2):
        offsets = sorted(Record.objects.filter(topic=topic, partition=partition).values_list("offset", flat=True))
        assert offsets == list(range(first_new[partition], ends[partition])), "restarted at the first message at or after the time"

    lag = groups(capsys, "lag", group)
    assert f"committed {ends[0]}" in lag and "lag 0" in lag
    assert group in groups(capsys, "list")


def test_copy_gives_the_new_group_the_same_offsets_and_delete_removes_it(kafka, make_server, producing_to, capsys):
    topic = kafka.create_topic(unique("copy"), 3)
    ends = kafka.produce_json(topic, 3, 90)
    group = make_server.group
    server = make_server([{"topic": topic, "consumer": CONSUMER}], KAFKA={"auto.commit.interval.ms": 200}).start()
    wait_until(lambda: kafka.committed(group, topic, 3) == ends, 40, "all committed")
    assert server.stop() == 0
    groups(capsys, "seek", group, topic, "--to-offset", "0:5", "2:7")
    expected = {0: 5, 1: ends[1], 2: 7}
    assert kafka.committed(group, topic, 3) == expected

    copy = unique("copy_of")
    assert "(none) -> 5" in groups(capsys, "copy", group, copy, "--dry-run")
    assert kafka.committed(copy, topic, 3) == {0: -1001, 1: -1001, 2: -1001}
    groups(capsys, "copy", group, copy)
    assert kafka.committed(copy, topic, 3) == expected

    with pytest.raises(CommandError, match="has no partition 9"):
        call_command("karafka_groups", "seek", copy, topic, "--to-offset", "9:1")
    with pytest.raises(CommandError, match="PARTITION:OFFSET"):
        call_command("karafka_groups", "seek", copy, topic, "--to-offset", "zero")
    assert "Deleted" in groups(capsys, "delete", copy)
    assert copy not in groups(capsys, "list")
    assert kafka.committed(copy, topic, 3) == {0: -1001, 1: -1001, 2: -1001}


@pytest.mark.parametrize("target, restart_at", [("time", 10), ("earliest", 0)])
def test_a_consumer_seeks_to_a_time_or_the_earliest_message(kafka, make_server, target, restart_at):
    topic = kafka.create_topic(unique("consumer_seek"), 1)
    now_ms = int(time.time() * 1000)
    boundary = datetime.fromtimestamp(now_ms / 1000, tz=UTC).isoformat()
    messages = [(0, b"k", b"{}", now_ms - 3_600_000 + n) for n in range(10)]
    messages += [(0, b"k", b"{}", now_ms + n) for n in range(10)]
    messages.append((0, b"k", json.dumps({"seek": boundary if target == "time" else target}).encode(), now_ms + 10))
    ends = kafka.produce(topic, messages)
    server = make_server([{"topic": topic, "consumer": CONSUMER}], KAFKA={"auto.commit.interval.ms": 200}).start()
    expected = sorted([*range(21), *range(restart_at, 21)])
    seen = lambda: sorted(Record.objects.filter(topic=topic).values_list("offset", flat=True))  # noqa: E731
    wait_until(lambda: seen() == expected and kafka.committed(make_server.group, topic, 1) == ends, 40, "read again from the position")
    assert server.stop() == 0
    assert seen() == expected, "read once more from the position, and only once"
