"""Resource accounting: the threads, TCP connections and database connections a server uses.

Computed from the routing before deployment (``manage.py karafka_info``) and measured on a
live process with psutil (tests compare the two). librdkafka figures, per client (2.x):

- a consumer runs ``3 + brokers`` threads (its main thread, the internal broker thread, the
  group coordinator's and one per broker) and opens ``brokers + 1`` connections (each broker,
  plus the coordinator's own connection);
- a producer runs ``2 + brokers`` threads and opens ``brokers`` connections;
- a transactional producer (``CONCURRENCY`` of them with a ``transactional`` route) runs
  ``3 + brokers`` threads (its transaction coordinator's too) plus the thread serving its
  delivery reports, and opens ``brokers + 1`` connections (like a consumer's coordinator).

Memory: an idle server measured about ``IDLE_RSS_BYTES`` here; fetched messages add at most
``MAX_BUFFERED_BYTES``: three quarters for the coordinators (buffers and batches in flight),
one quarter for librdkafka's prefetch queues (``queued.max.messages.kbytes``), split between
the consumers. A fetch that arrives while under the bound may overshoot it by one fetch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: RSS of an idle server process (Django on PostgreSQL, one consumer) measured on Python 3.11
#: (`./bench/run memory`; about 9 MB less on SQLite).
IDLE_RSS_BYTES = 64 * 2**20


def buffer_split(max_buffered_bytes: int, kafka: dict[str, Any], subscription_groups: int) -> tuple[int, int]:
    """``MAX_BUFFERED_BYTES`` as (the coordinators' byte budget, each consumer's
    ``queued.max.messages.kbytes``); a ``queued.max.messages.kbytes`` in KAFKA wins."""
    prefetch_kbytes = kafka.get("queued.max.messages.kbytes") or max(
        1024, max_buffered_bytes // 4 // 1024 // max(1, subscription_groups))
    return max_buffered_bytes * 3 // 4, int(prefetch_kbytes)


@dataclass(frozen=True)
class ResourceEstimate:
    subscription_groups: int
    concurrency: int
    brokers: int
    swarm_nodes: int | None = None  # None: a single server process
    producer: bool = True  # the process-wide producer exists once something produces (or a DLQ does)
    metrics: bool = False  # --metrics-port: one more thread
    reporting: bool = False  # REPORTING: a reporter thread, its commands consumer, and the producer
    transactional_producers: int = 0  # CONCURRENCY when a route is transactional
    buffer_budget_bytes: int = 0  # the coordinators' share of MAX_BUFFERED_BYTES
    prefetch_kbytes: int = 0  # queued.max.messages.kbytes of each consumer
    threads: dict[str, int] = field(init=False)
    tcp_connections: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        sg, b = self.subscription_groups, self.brokers
        producer = self.producer or self.reporting
        threads = {
            "main": 1,
            "listeners": sg,
            "workers": self.concurrency,
            "librdkafka_consumers": sg * (3 + b),
            "producer_reports": int(producer),
            "librdkafka_producer": (2 + b) if producer else 0,
            "http": int(self.metrics),
            "reporter": int(self.reporting),
            "librdkafka_commands_consumer": (3 + b) if self.reporting else 0,
            "swarm_heartbeat": int(self.swarm_nodes is not None),
            "transactional_producers": self.transactional_producers * (4 + b),
        }
        tcp = {"consumers": (sg + int(self.reporting)) * (b + 1), "producer": b if producer else 0,
               "transactional_producers": self.transactional_producers * (b + 1)}
        object.__setattr__(self, "threads", threads)
        object.__setattr__(self, "tcp_connections", tcp)

    @property
    def threads_per_process(self) -> int:
        return sum(self.threads.values())

    @property
    def tcp_per_process(self) -> int:
        return sum(self.tcp_connections.values())

    @property
    def db_connections_per_process(self) -> int:
        """Per database alias: one per worker and one per listener (hooks and filters run there)."""
        return self.concurrency + self.subscription_groups

    @property
    def peak_memory_bytes(self) -> int:
        """Idle baseline + the coordinators' budget + librdkafka's prefetch of every consumer."""
        return IDLE_RSS_BYTES + self.buffer_budget_bytes + self.subscription_groups * self.prefetch_kbytes * 1024

    @property
    def processes(self) -> int:
        return self.swarm_nodes or 1

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            threads_per_process=self.threads_per_process,
            tcp_connections_per_process=self.tcp_per_process,
            db_connections_per_process=self.db_connections_per_process,
            peak_memory_bytes_per_process=self.peak_memory_bytes,
            processes=self.processes,
            totals={
                # A swarm's supervisor adds one thread and nothing else.
                "threads": self.threads_per_process * self.processes + (1 if self.swarm_nodes else 0),
                "tcp_connections": self.tcp_per_process * self.processes,
                "db_connections": self.db_connections_per_process * self.processes,
            },
        )
        return data


@dataclass(frozen=True)
class Measured:
    threads: int
    tcp_connections: int  # established, to the given ports
    rss_bytes: int


def measure(pid: int, ports: set[int]) -> Measured:
    """What process ``pid`` uses now: threads, connections to ``ports`` (brokers or a database), RSS."""
    import psutil  # only where measured: the server itself never imports it

    process = psutil.Process(pid)
    connections = [
        c for c in process.net_connections(kind="tcp")
        if c.raddr and c.raddr.port in ports and c.status == psutil.CONN_ESTABLISHED
    ]
    return Measured(process.num_threads(), len(connections), process.memory_info().rss)
