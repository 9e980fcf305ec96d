"""sentry-arroyo: a ``StreamProcessor`` with a strategy chain, as its docs build one:
``RunTask`` then ``CommitOffsets``; for database writes ``BatchStep`` (500 messages or 1 s) before
the write, so rows go in batches."""

from __future__ import annotations

import json
from collections.abc import Mapping

from arroyo.backends.kafka import KafkaConsumer, KafkaPayload
from arroyo.backends.kafka.configuration import build_kafka_consumer_configuration
from arroyo.processing import StreamProcessor
from arroyo.processing.strategies import BatchStep, CommitOffsets, ProcessingStrategy, ProcessingStrategyFactory, RunTask
from arroyo.types import Commit, Message, Partition, Topic

from bench.peers.common import LIBRDKAFKA, Rows, Tally, arguments


class Factory(ProcessingStrategyFactory[KafkaPayload]):
    def __init__(self, work: str, tally: Tally, rows: Rows) -> None:
        self.work, self.tally, self.rows = work, tally, rows

    def create_with_partitions(self, commit: Commit, partitions: Mapping[Partition, int]) -> ProcessingStrategy[KafkaPayload]:
        tally, rows = self.tally, self.rows
        if self.work == "touch":
            return RunTask(lambda message: tally.done(1) or message.payload.value, CommitOffsets(commit))
        if self.work == "latency":
            return RunTask(lambda message: tally.timed(message.payload.value, message.timestamp.timestamp() * 1000),
                           CommitOffsets(commit))

        def write(batch: Message) -> None:
            rows.write([(value.partition.index, value.offset, json.loads(value.payload.value)) for value in batch.payload])
            tally.done(len(batch.payload))

        def start(message: Message[KafkaPayload]) -> KafkaPayload:
            tally.started()
            return message.payload

        return RunTask(start, BatchStep(500, 1.0, RunTask(write, CommitOffsets(commit))))


def main() -> None:
    args = arguments()
    tally, rows = Tally(args), Rows(args.dsn, "sentry-arroyo")
    config = build_kafka_consumer_configuration({"bootstrap.servers": args.bootstrap}, group_id=args.group,
                                                auto_offset_reset="earliest", override_params=LIBRDKAFKA)
    StreamProcessor(KafkaConsumer(config), Topic(args.topic), Factory(args.work, tally, rows)).run()


if __name__ == "__main__":
    main()
