"""What a listener tells librdkafka about offsets: marks stored for its auto-commit, and the
synchronous commits of a revocation and of a stop. Called on the listener's thread only (it owns
the client).

A stop's commit is read back before the listener leaves. librdkafka defers a commit that met a
coordinator change (``NOT_COORDINATOR``, a dead coordinator, a broken connection) with the offsets
it carried and sends it again once a coordinator is found, and brokers accept an older offset: an
auto-commit sent before the coordinator died can land after the stop's newer commit and move the
group back. So the stop reads the group's committed offsets back, commits again what is older
than its marks, and leaves only once they hold, or reports that they do not (the exit is then
not clean).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from ..processing.buffer import FETCH_BATCH
from ..processing.coordinator import Coordinator
from .client import Client

logger = logging.getLogger("karafka_django.listener")

#: How long a stopping listener retries its last commit through a rebalance under way.
COMMIT_RETRY_S = 5.0
#: Poll timeout while a stopping listener waits for a commit to go through.
TICK_S = 0.05
#: How long one read-back of the committed offsets may wait for the coordinator.
READ_BACK_TIMEOUT_S = 5.0


def marks(coordinators: Iterable[Coordinator]) -> list[tuple[str, int, int]]:
    """What the listener commits: the marks, except where Kafka transactions commit the offsets."""
    return [(c.topic, c.partition, marked) for c in coordinators
            if (marked := c.offsets.marked) is not None and not c.offsets.by_transactions]


class Commits:
    def __init__(self, client: Client):
        self.client = client

    def store(self, coordinators: Iterable[Coordinator]) -> None:
        """Hand newly marked offsets to librdkafka, which commits them (auto-commit, close)."""
        fresh = [(c.topic, c.partition, offset) for c in coordinators
                 if not c.offsets.by_transactions and (offset := c.offsets.hand_over()) is not None]
        if fresh:
            self.client.store_offsets(fresh)

    def commit(self, coordinators: list[Coordinator]) -> None:
        """Commit the marks of ``coordinators``; a failure is logged (their messages come again)."""
        if error := self._commit(coordinators):
            _failed(coordinators, error)

    def commit_before_leaving(self, owned: Callable[[], list[Coordinator]], deadline: float) -> bool:
        """Commit the marks of the partitions still owned, before leaving. A rebalance under way
        (a deploy) refuses it (ILLEGAL_GENERATION, STALE_MEMBER_EPOCH): poll it through (a revocation
        commits what it takes) and commit what is left, for at most COMMIT_RETRY_S. What is fetched
        meanwhile is dropped: not marked, it is delivered again."""
        give_up_at = min(deadline, time.monotonic() + COMMIT_RETRY_S)
        while (error := self._commit(owned())) and time.monotonic() < give_up_at:
            self.client.consume(FETCH_BATCH, TICK_S)
        if error:
            _failed(owned(), error)
            return False
        return self._held(marks(owned()), deadline)

    def _held(self, committed: list[tuple[str, int, int]], deadline: float) -> bool:
        """Read the group's offsets back until each is at least what was committed, committing
        again what is older (an earlier commit replayed after it); False if the deadline passes.
        Logged once when an older commit is found, and once if it never holds."""
        expected = {(topic, partition): offset for topic, partition, offset in committed}
        told = False
        while expected:
            answer = self.client.committed_offsets(list(expected), min(READ_BACK_TIMEOUT_S, max(0.1, deadline - time.monotonic())))
            older = expected if isinstance(answer, str) else {
                key: offset for key, offset in expected.items() if answer.get(key, -1) < offset}
            if not older:
                return True
            if time.monotonic() >= deadline:
                logger.warning("the final commit did not hold: %s read back %s: their messages will be delivered again",
                               sorted(older.items()), answer)
                return False
            if not isinstance(answer, str):  # (else no coordinator answers yet)
                if not told:
                    logger.warning("an older commit landed after the final one (%s, expected %s): committing again",
                                   {key: answer.get(key) for key in older}, older)
                    told = True
                self.client.commit([(topic, partition, offset) for (topic, partition), offset in older.items()])
            self.client.consume(FETCH_BATCH, TICK_S)  # paced; the member stays alive meanwhile
            expected = older
        return True

    def _commit(self, coordinators: list[Coordinator]) -> str | None:
        """Store the marks too (librdkafka commits stored offsets on close and unassign: an older
        stored offset would move the committed one back) and commit them; None, or why not."""
        self.store(coordinators)
        return self.client.commit(marks(coordinators))


def _failed(coordinators: list[Coordinator], error: str) -> None:
    logger.warning("commit of %s failed: %s: their messages will be delivered again", marks(coordinators), error)
