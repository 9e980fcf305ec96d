"""faust-streaming: an ``App`` with an agent, as its docs write a consumer (aiokafka underneath, so
no librdkafka settings apply); rows in batches with ``stream.take(500, within=1)``."""

from __future__ import annotations

import json
import logging

import faust

from bench.peers.common import Rows, Tally, arguments


def main() -> None:
    args = arguments()
    tally, rows = Tally(args), Rows(args.dsn, "faust-streaming")
    app = faust.App(args.group, broker=f"kafka://{args.bootstrap}", web_enabled=False, store="memory://",
                    consumer_auto_offset_reset="earliest", topic_disable_leader=True)
    topic = app.topic(args.topic, value_type=bytes, value_serializer="raw")

    @app.agent(topic)
    async def consume(stream):
        if args.work == "touch":
            async for _ in stream:
                tally.done(1)
        elif args.work == "json_pg":
            async for events in stream.take_events(500, within=1):
                tally.started()
                rows.write([(e.message.partition, e.message.offset, json.loads(e.value)) for e in events])
                tally.done(len(events))
        else:
            async for event in stream.events():
                tally.timed(event.value, event.message.timestamp * 1000)

    faust.Worker(app, loglevel=logging.WARNING, quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
