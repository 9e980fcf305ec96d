"""quixstreams: an ``Application`` and a ``StreamingDataFrame``, as its docs write a consumer. Rows
go through a ``BatchingSink`` (its documented way to write to a database), flushed at each
checkpoint; ``commit_interval`` is 1 s instead of 5 s so a run of seconds is not one checkpoint."""

from __future__ import annotations

from quixstreams import Application
from quixstreams.sinks import BatchingSink, SinkBatch

from bench.peers.common import LIBRDKAFKA, Rows, Tally, arguments


class PostgresSink(BatchingSink):
    def __init__(self, tally: Tally, rows: Rows) -> None:
        super().__init__()
        self.tally, self.rows = tally, rows

    def write(self, batch: SinkBatch) -> None:
        self.rows.write([(batch.partition, item.offset, item.value) for item in batch])
        self.tally.done(batch.size)


def main() -> None:
    args = arguments()
    tally, rows = Tally(args), Rows(args.dsn, "quixstreams")
    app = Application(broker_address=args.bootstrap, consumer_group=args.group, auto_offset_reset="earliest",
                      consumer_extra_config=LIBRDKAFKA, commit_interval=1.0)
    as_json = args.work == "json_pg"
    frame = app.dataframe(app.topic(args.topic, value_deserializer="json" if as_json else "bytes"))
    if args.work == "touch":
        frame = frame.update(lambda value: tally.done(1))
    elif as_json:
        frame = frame.update(lambda value: tally.started())
        frame.sink(PostgresSink(tally, rows))
    else:
        frame = frame.update(lambda value, key, timestamp, headers: tally.timed(value, timestamp), metadata=True)
    app.run()


if __name__ == "__main__":
    main()
