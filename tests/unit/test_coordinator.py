"""The per-partition state machine, without a broker."""

import time

from karafka_django.processing.buffer import BEHIND_AFTER_S, FETCH_BATCH, HARD_BOUND_FACTOR, MAX_HOLD_S, BufferBudget
from karafka_django.processing.jobs import Job
from karafka_django.processing.pause import Backoff
from karafka_django.routing.route import DeadLetterQueue, VirtualPartitions
from karafka_django.testing import raw_message


def batch(start: int, stop: int, key=None) -> list:
    """Messages of t/0 with 10-byte payloads (``key(offset)`` gives each one's key)."""
    return [raw_message("t", 0, o, b"0123456789", None if key is None else str(key(o))) for o in range(start, stop)]


def one(jobs: list):
    """The single job of a non-virtual partition, or None."""
    assert len(jobs) <= 1
    return jobs[0] if jobs else None


def offsets(job) -> list[int]:
    return [m.offset() for m in job.raw]


def test_one_job_at_a_time_in_offset_order(coordinator):
    first = one(coordinator.add(batch(0, 25)))
    assert offsets(first) == list(range(10))
    assert coordinator.add(batch(25, 30)) == [], "a second job while one is in flight"
    second = one(coordinator.complete(first, mark_last=True))
    assert coordinator.offsets.marked == 10
    assert offsets(second) == list(range(10, 20))
    third = one(coordinator.complete(second, mark_last=True))
    assert offsets(third) == list(range(20, 30))
    assert one(coordinator.complete(third, mark_last=True)) is None
    assert not coordinator.busy and coordinator.offsets.marked == 30


def test_failure_requeues_unmarked_messages_and_backs_off(coordinator):
    job = one(coordinator.add(batch(0, 15)))
    coordinator.offsets.mark(4)  # the consumer marked offsets 0..3 before raising
    assert coordinator.fail(job, ValueError()) == 1.0
    assert one(coordinator.due_jobs(now=0)) is None, "retried before the backoff ran out"
    retry = one(coordinator.due_jobs(now=coordinator.pause.ends_at))
    assert offsets(retry) == [4], "the retry starts at the first unmarked offset, one message at a time"
    assert coordinator.fail(retry, ValueError()) == 2.0
    assert coordinator.pause.attempt == 2 and len(coordinator.retry.errors) == 2
    retry = one(coordinator.due_jobs(now=coordinator.pause.ends_at))
    following = one(coordinator.complete(retry, mark_last=True))
    assert coordinator.offsets.marked == 5 and offsets(following) == [5]
    assert coordinator.pause.attempt == 2, "still isolating the failed batch"
    for _ in range(5, 9):
        following = one(coordinator.complete(following, mark_last=True))
    assert offsets(following) == [9]
    following = one(coordinator.complete(following, mark_last=True))
    assert offsets(following) == list(range(10, 15)), "isolation ends after the failed batch's last offset (9)"
    assert coordinator.pause.attempt == 0 and not coordinator.retry.errors
    one(coordinator.add(batch(15, 30)))
    assert offsets(one(coordinator.complete(following, mark_last=True))) == list(range(15, 25)), "batches again"


def test_only_a_message_that_failed_on_its_own_and_is_out_of_retries_is_dead_lettered(make_coordinator):
    coordinator = make_coordinator(dead_letter_queue=DeadLetterQueue("t.dlq", max_retries=2))
    job = one(coordinator.add(batch(0, 3)))
    coordinator.fail(job, ValueError("the batch"))
    job = one(coordinator.due_jobs(now=coordinator.pause.ends_at))
    assert offsets(job) == [0] and not coordinator.dead_letter_due(job), "offset 0 never failed alone"
    job = one(coordinator.complete(job, mark_last=True))
    assert offsets(job) == [1]
    for attempt in (2, 3):
        coordinator.fail(job, ValueError(attempt))
        job = one(coordinator.due_jobs(now=coordinator.pause.ends_at))
        assert offsets(job) == [1]
    assert coordinator.pause.attempt == 3 and coordinator.dead_letter_due(job)
    following = one(coordinator.complete(job, mark_last=True, dead_lettered=True))
    assert coordinator.offsets.marked == 2 and coordinator.pause.attempt == 0 and offsets(following) == [2]
    assert not coordinator.dead_letter_due(following)


def test_waiting_for_a_dependency_backs_off_but_blames_and_counts_nothing(make_coordinator):
    coordinator = make_coordinator(dead_letter_queue=DeadLetterQueue("t.dlq", max_retries=0),
                                   backoff=Backoff(1000, 4000))
    job = one(coordinator.add(batch(0, 3)))
    delays = []
    for _ in range(4):
        delays.append(coordinator.fail(job, OSError("the database is down"), blame=False, counted=False))
        job = one(coordinator.due_jobs(now=coordinator.pause.ends_at))
        assert offsets(job) == [0, 1, 2], "the whole batch again: no message isolated"
    assert delays == [1.0, 2.0, 4.0, 4.0], "the usual backoff, capped"
    assert coordinator.pause.attempt == 0 and not coordinator.dead_letter_due(job), "no retry counted"
    coordinator.complete(job, mark_last=True)
    assert coordinator.offsets.marked == 3 and coordinator.pause.waits == 0


def test_backoff_is_exponential_and_capped():
    backoff = Backoff(1000, 5000)
    assert [backoff.seconds(a) for a in range(1, 6)] == [1, 2, 4, 5, 5]
    assert Backoff(1000, 5000, exponential=False).seconds(4) == 1


def test_a_full_buffer_of_a_consumer_behind_pauses_fetching_until_it_drained_to_half(coordinator):
    job = one(coordinator.add(batch(0, coordinator.buffer.bound + 10)))
    started = coordinator.buffer.progressed_at  # work came to an idle partition
    assert not coordinator.judge_fetch_pause(now=started) and coordinator.holds_fetch()
    behind = started + 2 * BEHIND_AFTER_S  # and no batch ended since
    assert coordinator.judge_fetch_pause(now=behind) and not coordinator.holds_fetch()
    while job is not None:
        job = one(coordinator.complete(job, mark_last=True))
        if not coordinator.judge_fetch_pause(now=behind):
            break
    assert len(coordinator.buffer) == coordinator.buffer.bound // 2, "hysteresis: resume only below half"


def test_a_consumer_that_keeps_up_holds_the_fetch_and_is_paused_only_past_the_hard_bound(coordinator):
    """A fast consumer trails a fast fetch by a few batches: the listener waits for it, since a
    pause would only make librdkafka drop and re-fetch its prefetched messages."""
    bound, taken = coordinator.buffer.bound, coordinator.buffer.batch_messages
    job = one(coordinator.add(batch(0, bound + taken)))
    one(coordinator.complete(job, mark_last=True))  # a batch just ended: the consumer keeps up
    now = coordinator.buffer.progressed_at
    assert len(coordinator.buffer) == bound - taken and not coordinator.judge_fetch_pause(now=now)
    assert not coordinator.holds_fetch()
    coordinator.add(batch(bound + taken, bound + 2 * taken))
    assert not coordinator.judge_fetch_pause(now=now) and coordinator.holds_fetch()
    coordinator.add(batch(bound + 2 * taken, coordinator.buffer.hard_bound + 3 * taken))
    assert coordinator.buffer.hard_bound == HARD_BOUND_FACTOR * FETCH_BATCH
    assert coordinator.judge_fetch_pause(now=now) and not coordinator.holds_fetch(), "past the hard bound: at once"


def test_a_hold_lasts_at_most_max_hold_even_while_the_consumer_keeps_up(coordinator):
    """The listener polls nothing while it holds: a buffer that stays past its bound (a steady
    but slower consumer) is paused after MAX_HOLD_S, so rebalances are served again."""
    job = one(coordinator.add(batch(0, coordinator.buffer.bound + 20)))
    start = coordinator.buffer.progressed_at
    assert not coordinator.judge_fetch_pause(now=start) and coordinator.holds_fetch()
    job = one(coordinator.complete(job, mark_last=True))  # progress, still past the bound
    assert len(coordinator.buffer) >= coordinator.buffer.bound
    assert not coordinator.judge_fetch_pause(now=coordinator.buffer.progressed_at)
    coordinator.buffer.progressed_at = start + MAX_HOLD_S  # it kept ending batches until now
    assert coordinator.judge_fetch_pause(now=start + MAX_HOLD_S + 0.001) and not coordinator.holds_fetch()


def test_a_closing_partition_holds_no_fetch(coordinator):
    """Quiet mode and shutdown close partitions with their buffers kept: the listener must keep
    polling (to stay in the group), never wait for a consumer that will start nothing."""
    one(coordinator.add(batch(0, coordinator.buffer.bound + 20)))
    assert not coordinator.judge_fetch_pause(now=coordinator.buffer.progressed_at) and coordinator.holds_fetch()
    coordinator.close()
    assert coordinator.judge_fetch_pause(now=coordinator.buffer.progressed_at) and not coordinator.holds_fetch()


def test_the_process_byte_budget_pauses_every_partition_until_half_of_it_is_left(make_coordinator):
    budget = BufferBudget(limit=100)
    first, second = make_coordinator(budget=budget), make_coordinator(budget=budget)
    job = one(first.add(batch(0, 4)))  # 10 bytes a message, counted while buffered or in flight
    assert budget.used == 40 and not second.judge_fetch_pause(now=0)
    second.add(batch(0, 6))  # 100 bytes: both partitions stop fetching
    assert budget.used == 100 and first.judge_fetch_pause(now=0) and second.judge_fetch_pause(now=0)
    assert one(first.complete(job, mark_last=True)) is None
    assert budget.used == 60 and second.judge_fetch_pause(now=0), "still above half"
    second.revoke()  # a revoked partition's buffer leaves the budget; its batch in flight when it ends
    assert budget.used == 60
    second.abandon(Job(second, []))
    assert budget.used == 0 and not first.judge_fetch_pause(now=0)


def test_a_job_of_a_revoked_partition_does_not_start_and_the_wait_covers_only_running_jobs(coordinator, make_coordinator):
    job = one(coordinator.add(batch(0, 30)))
    assert coordinator.job_started()
    coordinator.revoke()
    assert not coordinator.execution.wait_idle(0.01), "a running job is waited for"
    coordinator.job_ended()
    assert coordinator.execution.wait_idle(0.01)
    queued = make_coordinator()
    one(queued.add(batch(0, 5)))
    queued.revoke()
    assert not queued.job_started() and queued.execution.wait_idle(0), "a queued job is never waited for"
    assert offsets(job) == list(range(10)), "the running job keeps its batch (max_messages 10) through the revocation"


def test_a_hook_deferred_past_the_wait_is_handed_to_the_last_running_job(coordinator):
    assert not coordinator.execution.defer("revoked"), "nothing runs: the caller runs the hook itself"
    coordinator.job_started(), coordinator.job_started()  # two virtual parts
    coordinator.revoke()
    assert coordinator.execution.defer("revoked")
    assert coordinator.job_ended() is None and coordinator.job_ended() == "revoked"


def test_nothing_starts_while_a_predecessor_of_the_partition_still_runs(make_coordinator):
    old = make_coordinator()
    one(old.add(batch(0, 5)))
    old.job_started()
    old.revoke()
    new = make_coordinator(predecessor=old)
    assert one(new.add(batch(0, 5))) is None and new.needs_ticks(now=0)
    old.job_ended()
    assert offsets(one(new.due_jobs(now=time.monotonic()))) == [0, 1, 2, 3, 4]


def test_a_setup_failure_retries_the_whole_batch_without_blaming_a_message(coordinator):
    job = one(coordinator.add(batch(0, 30)))
    coordinator.fail(job, ConnectionError("cache"), blame=False)
    assert coordinator.retry.isolate_until is None and coordinator.retry.failed_offset is None
    assert offsets(one(coordinator.due_jobs(now=coordinator.pause.ends_at))) == list(range(10))


def test_seek_drops_the_buffer_and_waits_for_the_listener(coordinator):
    job = one(coordinator.add(batch(0, 30)))
    coordinator.request_seek(5)
    assert one(coordinator.complete(job, mark_last=False)) is None
    assert coordinator.offsets.seek_to == 5 and len(coordinator.buffer) == 0
    assert one(coordinator.add(batch(30, 35))) is None, "messages fetched before the seek are stale"
    coordinator.seek_applied()
    assert offsets(one(coordinator.add(batch(5, 8)))) == [5, 6, 7]


def test_marks_never_move_back(coordinator):
    coordinator.offsets.mark(10)
    coordinator.offsets.mark(3)
    assert coordinator.offsets.marked == 10


def test_revoked_in_flight_job_is_marked_for_the_final_commit(coordinator):
    job = one(coordinator.add(batch(0, 30)))
    coordinator.revoke()
    assert one(coordinator.complete(job, mark_last=True)) is None
    assert coordinator.offsets.marked == 10 and not coordinator.busy


def test_closing_finishes_the_job_but_starts_no_other(coordinator):
    job = one(coordinator.add(batch(0, 30)))
    coordinator.close()
    assert one(coordinator.complete(job, mark_last=True)) is None
    assert coordinator.judge_fetch_pause(now=0)


def by_key(message) -> int:
    return int(message.key)


def test_virtual_partitions_run_in_parallel_and_commit_only_below_the_slowest(make_coordinator):
    coordinator = make_coordinator(virtual_partitions=VirtualPartitions(by_key, 2))
    jobs = coordinator.add(batch(0, 8, key=lambda o: o % 4))
    assert sorted((job.slot, offsets(job)) for job in jobs) == [(0, [0, 2, 4, 6]), (1, [1, 3, 5, 7])]
    even, odd = sorted(jobs, key=lambda job: job.slot)
    coordinator.mark_consumed(odd, 5)  # the odd part is ahead: offsets 0, 2, 4 are not done
    assert coordinator.offsets.marked == 0
    coordinator.mark_consumed(even, 2)
    assert coordinator.offsets.marked == 4, "everything below 4 is done, 4 itself is not"
    assert coordinator.complete(odd, mark_last=True) == [] and coordinator.busy
    coordinator.add(batch(8, 9, key=lambda o: 0))
    following = coordinator.complete(even, mark_last=True)
    assert coordinator.offsets.marked == 8 and [offsets(j) for j in following] == [[8]]


def test_a_failed_virtual_part_retries_the_batch_from_its_lowest_unfinished_offset(make_coordinator):
    coordinator = make_coordinator(virtual_partitions=VirtualPartitions(by_key, 2))
    even, odd = sorted(coordinator.add(batch(0, 6, key=lambda o: o)), key=lambda job: job.slot)
    coordinator.mark_consumed(even, 2)  # 0 and 2 done before the failure
    coordinator.fail(even, ValueError())
    assert coordinator.complete(odd, mark_last=True) == []
    assert coordinator.offsets.marked == 4, "0-3 are done (odd finished), 4 is not"
    retry = one(coordinator.due_jobs(now=coordinator.pause.ends_at))
    assert offsets(retry) == [4], "isolation: one message at a time, from the lowest unfinished"


def test_periodic_tick_only_when_idle_for_the_interval(make_coordinator):
    coordinator = make_coordinator(periodic_interval_ms=1000)
    now = coordinator.last_activity
    assert coordinator.due_jobs(now + 0.5) == []
    [tick] = coordinator.due_jobs(now + 1.0)
    assert tick.tick and coordinator.busy
    assert coordinator.add(batch(0, 3)) == [], "consume never overlaps a tick"
    [job] = coordinator.complete(tick, mark_last=True)
    assert offsets(job) == [0, 1, 2] and coordinator.offsets.marked is None


def test_unset_max_messages_takes_the_backlog_up_to_a_thousand_messages_or_a_mebibyte():
    from karafka_django.processing.buffer import AUTO_BATCH_BYTES, AUTO_BATCH_MESSAGES, PartitionBuffer

    small = PartitionBuffer(None, BufferBudget(0))
    small.extend(batch(0, 1500))  # 10-byte payloads: the message cap binds
    assert len(small.take(small.batch_messages)) == AUTO_BATCH_MESSAGES
    small.batch_ended(time.monotonic())
    assert len(small.take(small.batch_messages)) == 500, "what is buffered, once the backlog is short"

    big = PartitionBuffer(None, BufferBudget(0))
    big.extend([raw_message("t", 0, o, b"x" * 10_240) for o in range(500)])  # 10 KiB each: the byte bound binds
    assert len(big.take(big.batch_messages)) == AUTO_BATCH_BYTES // 10_240

    huge = PartitionBuffer(None, BufferBudget(0))
    huge.extend([raw_message("t", 0, o, b"x" * (2 << 20)) for o in range(3)])
    assert len(huge.take(huge.batch_messages)) == 1, "one message at least"

    capped = PartitionBuffer(100, BufferBudget(0))  # MAX_MESSAGES set: the user's cap, no byte bound
    capped.extend([raw_message("t", 0, o, b"x" * 10_240) for o in range(500)])
    assert len(capped.take(capped.batch_messages)) == 100
