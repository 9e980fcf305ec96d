"""The queue between listeners (and finishing workers) and the worker pool."""

from __future__ import annotations

import queue

from .jobs import Job, ServiceJob


class JobsQueue:
    """FIFO of jobs; ``None`` is the sentinel that stops one worker."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Job | ServiceJob | None] = queue.SimpleQueue()

    def put(self, job: Job | ServiceJob | None) -> None:
        self._queue.put(job)

    def get(self) -> Job | ServiceJob | None:
        return self._queue.get()

    def __len__(self) -> int:
        return self._queue.qsize()
