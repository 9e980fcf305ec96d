"""What a listener reports of its client and partitions, read from librdkafka's statistics
(``statistics.interval.ms``) and its coordinators."""

from __future__ import annotations

from typing import Any

from ..instrumentation.snapshot import PartitionSnapshot
from ..processing.coordinator import Coordinator


def partition_snapshot(consumer_group: str, topic: str, partition: int, coordinator: Coordinator, stats: dict[str, Any],
                       now: float, stalled_after_s: float) -> PartitionSnapshot:
    """The partition's offsets and lag as librdkafka last counted them, and its state here. Lag
    is the high watermark minus the stored offset (what was processed) once one is stored, minus
    the committed offset before."""
    p = stats.get("topics", {}).get(topic, {}).get("partitions", {}).get(str(partition), {})
    committed_lag, stored_lag = p.get("consumer_lag", -1), p.get("consumer_lag_stored", -1)
    lag = stored_lag if stored_lag >= 0 else committed_lag
    held = coordinator.pause.held_for(now)
    stalled = coordinator.stalled(now, stalled_after_s)
    return PartitionSnapshot(
        consumer_group=consumer_group, topic=topic, partition=partition,
        committed=p.get("committed_offset"), high_watermark=p.get("hi_offset"), lag=lag if lag >= 0 else None,
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
