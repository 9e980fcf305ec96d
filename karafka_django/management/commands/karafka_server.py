import os
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from karafka_django.instrumentation import monitor
from karafka_django.instrumentation.logger import log_events
from karafka_django.loading import load_or_fail
from karafka_django.runtime.heap import freeze_startup_heap
from karafka_django.runtime.server import Server
from karafka_django.swarm.node import run_node
from karafka_django.swarm.supervisor import Supervisor


def _names(value: str | None) -> list[str] | None:
    return [name.strip() for name in value.split(",") if name.strip()] if value else None


class Command(BaseCommand):
    help = "Run the Kafka consumer server: one listener per subscription group and a shared worker pool."

    def add_arguments(self, parser):
        parser.add_argument("--consumer-groups", help="comma-separated consumer groups to run (default: all)")
        parser.add_argument("--subscription-groups", help="comma-separated subscription groups to run")
        parser.add_argument("--topics", help="comma-separated topics to run")
        parser.add_argument("--concurrency", type=int, help="worker threads (overrides KARAFKA['CONCURRENCY'])")
        parser.add_argument("--metrics-port", type=int,
                            help="serve /healthz and Prometheus /metrics on this port (swarm node i: port + i)")
        parser.add_argument("--swarm", type=int, nargs="?", const=os.cpu_count() or 1, metavar="N",
                            help="fork N server nodes under a supervisor (default N: CPU count)")
        parser.add_argument("--reload", action="store_true",
                            help="development: restart after a Python file changes (Django's autoreloader)")

    def handle(self, *args, consumer_groups, subscription_groups, topics, concurrency, metrics_port, swarm, reload,
               **options):
        config, routing = load_or_fail()
        if concurrency is not None and concurrency < 1:
            raise CommandError("karafka.E005: --concurrency must be an integer >= 1.")
        selected = routing.select(_names(consumer_groups), _names(subscription_groups), _names(topics))
        if not selected:
            raise CommandError("no active routes match the given consumer groups, subscription groups and topics.")
        if swarm is not None and swarm < 1:
            raise CommandError("--swarm takes a number of nodes >= 1.")
        if reload and swarm is not None:
            raise CommandError("--reload is for development and does not combine with --swarm.")
        log_events(monitor)
        freeze_startup_heap()
        if reload:
            from karafka_django.runtime.reloading import run_with_reload

            run_with_reload(lambda: Server(config, selected, concurrency, metrics_port=metrics_port), monitor)
            return
        if swarm is None:
            sys.exit(Server(config, selected, concurrency, metrics_port=metrics_port).run())

        def build_node(index: int) -> Server:
            port = None if metrics_port is None else metrics_port + index
            return Server(config, selected, concurrency, metrics_port=port, node=index)

        connections.close_all()  # nothing that is not fork-safe may exist before the fork
        supervisor = Supervisor(
            swarm,
            lambda index, fd: run_node(index, fd, build_node),
            report_timeout_s=config.swarm_node_report_timeout_ms / 1000,
            shutdown_timeout_s=config.shutdown_timeout_ms / 1000,
            monitor=monitor,
        )
        sys.exit(supervisor.run())
