"""What a listener reports of its client and partitions, read from librdkafka's statistics
(``statistics.interval.ms``) and its coordinators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..instrumentation.snapshot import ListenerSnapshot, PartitionSnapshot
from ..processing.coordinator import Coordinator
from .client import Client

if TYPE_CHECKING:
    from .listener import Listener


class PausedEnds:
    """The broker's end of each partition whose fetching is paused (quiet mode, a backoff, a full
    buffer, an operator's pause), asked once per statistics interval: librdkafka stops refreshing
    those, and a lag that froze where an alert matters most would be a lie."""

    def __init__(self, interval_s: float):
        self.interval_s = interval_s
        self.due_at = 0.0

    def refresh(self, client: Client, coordinators: dict[tuple[str, int], Coordinator], now: float) -> None:
        if now < self.due_at:
            return
        self.due_at = now + self.interval_s
        for (topic, partition), coordinator in coordinators.items():
            if coordinator.fetch_paused:
                coordinator.offsets.paused_high_watermark = client.high_watermark(topic, partition)


def partition_snapshot(consumer_group: str, topic: str, partition: int, coordinator: Coordinator, stats: dict[str, Any],
                       now: float, stalled_after_s: float, read_committed: bool = True) -> PartitionSnapshot:
    """The partition's offsets and lag as librdkafka last counted them, and its state here. Lag
    is the end minus the stored offset (what was processed) once one is stored, minus the
    committed offset before. The end is the last stable offset for a ``read_committed`` consumer
    (librdkafka's default: an open transaction holds it back), else the high watermark. A paused
    partition's end is the one the listener last asked of the broker (ListOffsets at the
    consumer's isolation level): librdkafka's statistics stop refreshing a partition not fetched."""
    p = stats.get("topics", {}).get(topic, {}).get("partitions", {}).get(str(partition), {})
    committed_lag, stored_lag = p.get("consumer_lag", -1), p.get("consumer_lag_stored", -1)
    high = p.get("ls_offset" if read_committed else "hi_offset")
    polled = coordinator.offsets.paused_high_watermark
    if polled is not None and (high is None or polled > high):  # paused: statistics stopped at the pause
        committed, stored = p.get("committed_offset", -1), p.get("stored_offset", -1)
        high, committed_lag = polled, polled - committed if committed >= 0 else -1
        stored_lag = polled - stored if stored >= 0 else -1
    lag = stored_lag if stored_lag >= 0 else committed_lag
    held = coordinator.pause.held_for(now)
    stalled = coordinator.stalled(now, stalled_after_s)
    return PartitionSnapshot(
        consumer_group=consumer_group, topic=topic, partition=partition,
        committed=p.get("committed_offset"), high_watermark=high, lag=lag if lag >= 0 else None,
        committed_lag=committed_lag if committed_lag >= 0 else None,
        paused=coordinator.pause.until_resumed, fetch_paused=coordinator.fetch_paused,
        last_processed_at=coordinator.offsets.last_processed_at, errors=len(coordinator.retry.errors),
        running_s=None if coordinator.execution.since is None else round(now - coordinator.execution.since, 1),
        paused_s=None if held is None else round(held, 1),
        stalled=stalled, stalled_s=round(now - coordinator.offsets.moved_at, 1) if stalled else None,
    )


def broker_ids(stats: dict[str, Any]) -> frozenset[int]:
    """The node ids of the brokers the client knows (bootstrap entries have none)."""
    node_ids = (b.get("nodeid") for b in stats.get("brokers", {}).values())
    return frozenset(n for n in node_ids if isinstance(n, int) and n >= 0)


def client_totals(stats: dict[str, Any]) -> dict[str, int]:
    """Messages and bytes fetched, and messages queued in the client, since it started."""
    if not stats:
        return {}
    return {"fetched_messages": stats.get("rxmsgs", 0), "fetched_bytes": stats.get("rx_bytes", 0),
            "queued_messages": stats.get("msg_cnt", 0)}


def listener_snapshot(listener: Listener, now: float) -> ListenerSnapshot:
    """A listener's part of ``Server.snapshot()``: its client and the partitions it owns."""
    group, stats = listener.subscription_group, listener.statistics
    stalled_after_s = listener.config.stalled_partition_timeout_ms / 1000
    read_committed = listener.kafka_config.get("isolation.level", "read_committed") == "read_committed"
    partitions = tuple(partition_snapshot(group.consumer_group, topic, partition, coordinator, stats, now, stalled_after_s,
                                          read_committed) for (topic, partition), coordinator in list(listener.coordinators.items()))
    return ListenerSnapshot(
        subscription_group=group.name, consumer_group=group.consumer_group, topics=group.topics,
        polled_s_ago=now - listener.last_poll_at, max_poll_interval_s=listener.max_poll_interval_s,
        brokers=listener.faults.state, brokers_down_s=listener.faults.down_for(now), failure=listener.faults.failure,
        brokers_unreachable=listener.faults.unreachable, partitions=partitions, broker_ids=broker_ids(stats),
        client_totals=client_totals(stats),
    )
