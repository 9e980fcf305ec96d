"""What every peer's driver shares: its arguments, the work, and the lines it prints.

A driver consumes ``--topic`` from the start in a new group ``--group``, the way the peer's own
documentation writes a consumer, and prints ``WARM`` at the first warm-up message (latency runs)
and ``RESULT {json}`` when done: the first and last processing times and the count (throughput
runs), or latencies in milliseconds. Then it exits without a graceful stop (not measured here).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from typing import Any

#: Librdkafka tuning given to every peer that takes librdkafka settings (karafka_django's default).
LIBRDKAFKA = {"fetch.queue.backoff.ms": 10}
WARM = b'{"warm"'
INSERT = "INSERT INTO peer_rows (peer, part, off, customer) VALUES (%s, %s, %s, %s)"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--total", type=int, required=True, help="messages (or timed messages) to wait for")
    parser.add_argument("--work", choices=("touch", "json_pg", "latency"), required=True)
    parser.add_argument("--dsn", default="", help="PostgreSQL, for json_pg")
    return parser.parse_args()


class Tally:
    """Counts what the driver processed (from any thread) and prints the result once complete."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.count, self.first, self.last = args, 0, 0.0, 0.0
        self.latencies: list[float] = []
        self.warm = False
        self._lock = threading.Lock()

    def done(self, count: int) -> None:
        """``count`` more messages fully processed (their rows written, for json_pg)."""
        with self._lock:
            now = time.perf_counter()
            self.first, self.last, self.count = self.first or now, now, self.count + count
            if self.count >= self.args.total:
                self._finish({"count": self.count, "seconds": self.last - self.first})

    def started(self) -> None:
        """A message reached the handler (json_pg: rows are counted when written, the clock starts here)."""
        if not self.first:
            with self._lock:
                self.first = self.first or time.perf_counter()

    def timed(self, value: bytes, timestamp_ms: float) -> None:
        """A latency run's message: warm-up ones announce the driver is consuming; the others are timed."""
        with self._lock:
            if value.startswith(WARM):
                if not self.warm:
                    self.warm = True
                    say("WARM")
                return
            self.latencies.append(time.time() * 1000 - timestamp_ms)
            if len(self.latencies) >= self.args.total:
                self._finish({"latencies_ms": self.latencies})

    @staticmethod
    def _finish(result: dict[str, Any]) -> None:
        say("RESULT " + json.dumps(result))
        os._exit(0)


def say(line: str) -> None:
    """To the process's stdout itself: faust's worker replaces ``sys.stdout`` with its logger."""
    os.write(1, (line + "\n").encode())


class Rows:
    """One PostgreSQL connection per thread; a batch of rows per transaction."""

    def __init__(self, dsn: str, peer: str) -> None:
        self.dsn, self.peer, self._local = dsn, peer, threading.local()

    def write(self, documents: list[tuple[int, int, dict]]) -> None:
        import psycopg

        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = psycopg.connect(self.dsn)
        with connection.cursor() as cursor:
            cursor.executemany(INSERT, [(self.peer, part, off, doc["customer"]) for part, off, doc in documents])
        connection.commit()
