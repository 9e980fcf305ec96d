"""The per-partition state machine, without a broker (fake messages are plain objects)."""

import pytest

from karafka_django.processing.coordinator import Backoff, Coordinator


class FakeMessage:
    def __init__(self, offset: int):
        self._offset = offset

    def offset(self) -> int:
        return self._offset


def batch(start: int, stop: int) -> list:
    return [FakeMessage(o) for o in range(start, stop)]


@pytest.fixture
def coordinator():
    return Coordinator("t", 0, route=None, max_messages=10, backoff=Backoff(1000, 4000))


def offsets(job) -> list[int]:
    return [m.offset() for m in job.raw]


def test_one_job_at_a_time_in_offset_order(coordinator):
    first = coordinator.add(batch(0, 25))
    assert offsets(first) == list(range(10))
    assert coordinator.add(batch(25, 30)) is None, "a second job while one is in flight"
    second = coordinator.complete(first, mark_last=True)
    assert coordinator.marked == 10
    assert offsets(second) == list(range(10, 20))
    third = coordinator.complete(second, mark_last=True)
    assert offsets(third) == list(range(20, 30))
    assert coordinator.complete(third, mark_last=True) is None
    assert coordinator.idle.is_set() and coordinator.marked == 30


def test_failure_requeues_unmarked_messages_and_backs_off(coordinator):
    job = coordinator.add(batch(0, 15))
    coordinator.mark(4)  # the consumer marked offsets 0..3 before raising
    assert coordinator.fail(job, ValueError()) == 1.0
    assert coordinator.due_job(now=0) is None, "retried before the backoff ran out"
    retry = coordinator.due_job(now=coordinator.retry_at)
    assert offsets(retry) == list(range(4, 14)), "the retry starts at the first unmarked offset"
    assert coordinator.fail(retry, ValueError()) == 2.0
    assert coordinator.attempt == 2
    retry = coordinator.due_job(now=coordinator.retry_at)
    coordinator.complete(retry, mark_last=True)
    assert coordinator.attempt == 0 and coordinator.marked == 14


def test_backoff_is_exponential_and_capped():
    backoff = Backoff(1000, 5000)
    assert [backoff.seconds(a) for a in range(1, 6)] == [1, 2, 4, 5, 5]
    assert Backoff(1000, 5000, exponential=False).seconds(4) == 1


def test_a_buffer_over_its_bound_asks_to_pause_fetching(coordinator):
    job = coordinator.add(batch(0, coordinator.buffer_bound + 10))
    assert coordinator.wants_fetch_paused(now=0)
    while job is not None:
        job = coordinator.complete(job, mark_last=True)
        if not coordinator.wants_fetch_paused(now=0):
            break
    assert coordinator.buffered < coordinator.buffer_bound


def test_seek_drops_the_buffer_and_waits_for_the_listener(coordinator):
    job = coordinator.add(batch(0, 30))
    coordinator.request_seek(5)
    assert coordinator.complete(job, mark_last=False) is None
    assert coordinator.seek_to == 5 and coordinator.buffered == 0
    assert coordinator.add(batch(30, 35)) is None, "messages fetched before the seek are stale"
    coordinator.seek_applied()
    assert offsets(coordinator.add(batch(5, 8))) == [5, 6, 7]


def test_marks_never_move_back(coordinator):
    coordinator.mark(10)
    coordinator.mark(3)
    assert coordinator.marked == 10


def test_revoked_in_flight_job_is_marked_for_the_final_commit(coordinator):
    job = coordinator.add(batch(0, 30))
    coordinator.revoke()
    assert coordinator.complete(job, mark_last=True) is None
    assert coordinator.marked == 10 and coordinator.idle.is_set()


def test_closing_finishes_the_job_but_starts_no_other(coordinator):
    job = coordinator.add(batch(0, 30))
    coordinator.close()
    assert coordinator.complete(job, mark_last=True) is None
    assert coordinator.wants_fetch_paused(now=0)
