"""Owns one ``confluent_kafka.Consumer``: the only code that calls it.

Every method is called from the owning listener thread (rebalance and statistics callbacks also
run there, inside ``consume``). Failures of offset calls are returned or logged, never raised
into the poll loop: a failed store or commit means re-delivery, not loss.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaException, TopicPartition

from ..routing.group_protocol import incremental
from . import clients

logger = logging.getLogger("karafka_django.client")


class Client:
    def __init__(
        self,
        config: dict[str, Any],
        on_stats: Callable[[str], None],
        on_error: Callable[[Any], None],
    ):
        self.config = config
        self.cooperative = incremental(config)
        self._consumer = clients.consumer(config, stats_cb=on_stats, error_cb=on_error)

    def subscribe(self, topics: list[str], on_assign: Callable, on_revoke: Callable, on_lost: Callable) -> None:
        self._consumer.subscribe(topics, on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)

    def accept_assignment(self, partitions: list) -> None:
        """Inside ``on_assign``: take the partitions (incrementally under cooperative-sticky or KIP-848) and
        resume them. librdkafka keeps an application pause flag across revoke and re-assign,
        and pause works only on assigned partitions, so the fetch state is set here, explicitly."""
        if self.cooperative:
            self._consumer.incremental_assign(partitions)
        else:
            self._consumer.assign(partitions)
        self._consumer.resume(partitions)

    def consume(self, num_messages: int, timeout: float) -> list:
        return self._consumer.consume(num_messages, timeout)

    def fetch(self, max_messages: int, timeout: float) -> list:
        """What librdkafka already holds (up to ``max_messages``), without waiting; when it holds
        nothing, the first message to arrive within ``timeout``, with whatever came with it.

        librdkafka's batch call waits for the whole timeout unless ``max_messages`` arrive, so at
        a low rate every message would wait for the timer; under load the queue is never empty
        and fetches stay large.
        """
        messages = self._consumer.consume(max_messages, 0)
        if messages or timeout <= 0:
            return messages
        messages = self._consumer.consume(1, timeout)
        if messages:
            messages += self._consumer.consume(max_messages - 1, 0)
        return messages

    def pause(self, topic: str, partition: int) -> None:
        self._consumer.pause([TopicPartition(topic, partition)])

    def resume(self, topic: str, partition: int) -> None:
        self._consumer.resume([TopicPartition(topic, partition)])

    def high_watermark(self, topic: str, partition: int) -> int | None:
        """The partition's end as the broker says now (librdkafka's statistics stop refreshing a
        partition it does not fetch); None when the broker did not answer within a second."""
        try:
            return self._consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=1, cached=False)[1]
        except KafkaException:
            return None

    def seek(self, topic: str, partition: int, offset: int) -> bool:
        try:
            self._consumer.seek(TopicPartition(topic, partition, offset))
            return True
        except KafkaException as exc:
            logger.warning("seek %s/%s@%s failed: %s", topic, partition, offset, exc)
            return False

    def store_offsets(self, offsets: list[tuple[str, int, int]]) -> None:
        try:
            self._consumer.store_offsets(offsets=[TopicPartition(t, p, o) for t, p, o in offsets])
        except KafkaException as exc:  # e.g. a partition revoked a moment ago
            logger.debug("store_offsets failed: %s", exc)

    def commit(self, offsets: list[tuple[str, int, int]]) -> str | None:
        """Synchronously commit ``offsets``; None when the broker accepted them, else why not."""
        if not offsets:
            return None
        try:
            self._consumer.commit(offsets=[TopicPartition(t, p, o) for t, p, o in offsets], asynchronous=False)
            return None
        except KafkaException as exc:
            return str(exc.args[0])

    def committed_offsets(self, partitions: list[tuple[str, int]], timeout: float) -> dict[tuple[str, int], int] | str:
        """The group's committed offsets of ``partitions``, as the coordinator answers now (-1: none);
        or why it could not answer."""
        try:
            answered = self._consumer.committed([TopicPartition(t, p) for t, p in partitions], timeout=timeout)
        except KafkaException as exc:
            return str(exc.args[0])
        return {(tp.topic, tp.partition): tp.offset for tp in answered}

    def group_metadata(self) -> Any:
        """The group's generation and this member's id, which fence a transaction's offsets."""
        return self._consumer.consumer_group_metadata()

    def close(self) -> None:
        self._consumer.close()
