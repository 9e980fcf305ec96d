"""django-kafka: a ``Consumer`` with a ``TopicConsumer``, as its docs write one. It hands over
one message at a time (``poll()``), so a database write is one row per transaction, and stores
each offset after it (``enable.auto.offset.store`` off, its at-least-once setting)."""

from __future__ import annotations

import json

import django
from django.conf import settings

from bench.peers.common import LIBRDKAFKA, Rows, Tally, arguments


def main() -> None:
    args = arguments()
    tally, rows = Tally(args), Rows(args.dsn, "django-kafka")
    settings.configure(
        INSTALLED_APPS=["django_kafka"], USE_TZ=True,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        DJANGO_KAFKA={"CLIENT_ID": args.group, "GLOBAL_CONFIG": {"bootstrap.servers": args.bootstrap},
                      "CONSUMER_CONFIG": {"auto.offset.reset": "earliest", "enable.auto.offset.store": False, **LIBRDKAFKA}})
    django.setup()
    from django_kafka.consumer import Consumer, Topics
    from django_kafka.topic import TopicConsumer

    class Source(TopicConsumer):
        name = args.topic

        def consume(self, msg):
            if args.work == "touch":
                msg.value()
                tally.done(1)
            elif args.work == "json_pg":
                tally.started()
                rows.write([(msg.partition(), msg.offset(), json.loads(msg.value()))])
                tally.done(1)
            else:
                tally.timed(msg.value(), msg.timestamp()[1])

    class PeerConsumer(Consumer):
        config = {"group.id": args.group}
        topics = Topics(Source())

    PeerConsumer().start()


if __name__ == "__main__":
    main()
