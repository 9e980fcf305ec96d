"""karafka_django: a routed ``BaseConsumer`` run by karafka_server's ``Server`` with the defaults
(``CONCURRENCY`` 5 workers, ``MAX_MESSAGES`` 100), iterating ``messages`` as its docs do."""

from __future__ import annotations

import django
from django.conf import settings

from bench.peers.common import LIBRDKAFKA, Rows, Tally, arguments
from karafka_django import BaseConsumer


class Shared:
    """Set by ``main()``: the route imports this module afresh, apart from the ``__main__`` one."""

    tally: Tally
    rows: Rows


class Touch(BaseConsumer):
    def consume(self, messages):
        for message in messages:
            message.offset  # noqa: B018  (read, as the raw loop reads them)
            message.raw_payload  # noqa: B018
        Shared.tally.done(len(messages))


class JsonToPostgres(BaseConsumer):
    def consume(self, messages):
        Shared.tally.started()
        Shared.rows.write([(message.partition, message.offset, message.payload) for message in messages])
        Shared.tally.done(len(messages))


class Timed(BaseConsumer):
    def consume(self, messages):
        for message in messages:
            Shared.tally.timed(message.raw_payload, message.timestamp.timestamp() * 1000)


CONSUMERS = {"touch": Touch, "json_pg": JsonToPostgres, "latency": Timed}


def main() -> None:
    import bench.peers.karafka_server as routed  # the module the route imports (this one runs as __main__)

    args = arguments()
    routed.Shared.tally, routed.Shared.rows = Tally(args), Rows(args.dsn, "karafka_django")
    settings.configure(
        INSTALLED_APPS=["karafka_django"], USE_TZ=True,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        KARAFKA={"CLIENT_ID": args.group, "KAFKA": {"bootstrap.servers": args.bootstrap, **LIBRDKAFKA},
                 "ROUTES": [{"topic": args.topic, "consumer": f"bench.peers.karafka_server.{CONSUMERS[args.work].__name__}"}]})
    django.setup()
    from karafka_django.loading import load_or_fail
    from karafka_django.runtime.server import Server

    config, routing = load_or_fail()
    Server(config, routing.select()).run()


if __name__ == "__main__":
    main()
