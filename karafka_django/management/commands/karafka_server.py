import sys

from django.core.management.base import BaseCommand, CommandError

from karafka_django.conf import get_config
from karafka_django.instrumentation import monitor
from karafka_django.instrumentation.logger import LoggingListener, ensure_console_logging
from karafka_django.routing import build_routing
from karafka_django.server import Server


def _names(value: str | None) -> list[str] | None:
    return [name.strip() for name in value.split(",") if name.strip()] if value else None


class Command(BaseCommand):
    help = "Run the Kafka consumer server: one listener per subscription group and a shared worker pool."

    def add_arguments(self, parser):
        parser.add_argument("--consumer-groups", help="comma-separated consumer groups to run (default: all)")
        parser.add_argument("--subscription-groups", help="comma-separated subscription groups to run")
        parser.add_argument("--topics", help="comma-separated topics to run")
        parser.add_argument("--concurrency", type=int, help="worker threads (overrides KARAFKA['CONCURRENCY'])")
        parser.add_argument("--metrics-port", type=int, help="serve /healthz and Prometheus /metrics on this port")

    def handle(self, *args, consumer_groups, subscription_groups, topics, concurrency, metrics_port, **options):
        config = get_config()
        routing = build_routing(config)
        problems = [*config.problems, *routing.problems]
        if problems:
            raise CommandError("invalid KARAFKA settings:\n" + "\n".join(f"{p.id}: {p.msg}" for p in problems))
        if concurrency is not None and concurrency < 1:
            raise CommandError("karafka.E005: --concurrency must be an integer >= 1.")
        selected = routing.select(_names(consumer_groups), _names(subscription_groups), _names(topics))
        if not selected:
            raise CommandError("no active routes match the given consumer groups, subscription groups and topics.")
        ensure_console_logging()
        LoggingListener().subscribe_to(monitor)
        sys.exit(Server(config, selected, concurrency, metrics_port=metrics_port).run())
