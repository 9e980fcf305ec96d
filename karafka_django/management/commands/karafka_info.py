"""What a server will use before it runs: groups, threads, TCP and database connections."""

import json

from django.core.management.base import BaseCommand, CommandError

from karafka_django import __version__
from karafka_django.connection import clients
from karafka_django.instrumentation.resources import (
    IDLE_RSS_BYTES,
    ResourceEstimate,
    buffer_split,
)
from karafka_django.loading import load_or_fail


class Command(BaseCommand):
    help = "Print the routing and the resources a karafka_server process (or swarm) will use."

    def add_arguments(self, parser):
        parser.add_argument("--brokers", type=int, help="broker count (default: asked from the cluster)")
        parser.add_argument("--concurrency", type=int, help="as karafka_server --concurrency")
        parser.add_argument("--swarm", type=int, metavar="N", help="as karafka_server --swarm N")
        parser.add_argument("--metrics", action="store_true", help="as karafka_server --metrics-port")
        parser.add_argument("--no-producer", action="store_true",
                            help="the consumers never produce (no DLQ either): leave the producer out")
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args, brokers, concurrency, swarm, metrics, no_producer, format, **options):
        config, routing = load_or_fail()
        topics: dict[str, int] = {}
        if brokers is None:
            brokers, topics = self._cluster(config.producer_kafka)  # an admin client: no consumer settings
        groups = routing.select()
        budget, prefetch_kbytes = buffer_split(config.max_buffered_bytes, config.kafka, len(groups))
        estimate = ResourceEstimate(
            subscription_groups=len(groups),
            concurrency=concurrency or config.concurrency,
            brokers=brokers,
            swarm_nodes=swarm,
            producer=not no_producer,
            transactional_producers=(concurrency or config.concurrency) * any(r.transactional for sg in groups for r in sg.routes),
            metrics=metrics,
            buffer_budget_bytes=budget,
            prefetch_kbytes=prefetch_kbytes,
        )
        routing_data = [
            {"consumer_group": sg.consumer_group, "subscription_group": sg.name,
             "topics": {t: topics.get(t) for t in sg.topics}}
            for sg in groups
        ]
        if format == "json":
            self.stdout.write(json.dumps({"version": __version__, "routing": routing_data, "resources": estimate.as_dict()},
                                         indent=2))
            return
        self._print(routing_data, estimate, bool(topics))

    def _cluster(self, kafka: dict) -> tuple[int, dict]:
        failures = clients.Failures()
        admin = clients.admin(kafka, failures)
        try:
            metadata = admin.list_topics(timeout=10)
        except Exception as exc:
            raise CommandError(f"cannot reach the cluster ({failures.explain(exc, admin)}); "
                               "give --brokers N to work offline") from exc
        return len(metadata.brokers), {name: len(t.partitions) for name, t in metadata.topics.items()}

    def _print(self, routing: list, estimate: ResourceEstimate, online: bool) -> None:
        write = self.stdout.write
        write(f"karafka_django {__version__}\n\nRouting")
        for group in routing:
            write(f"  consumer group {group['consumer_group']} / subscription group {group['subscription_group']}")
            for topic, partitions in group["topics"].items():
                where = "" if not online else (f" ({partitions} partitions)" if partitions else " (topic does not exist)")
                write(f"    {topic}{where}")
        data = estimate.as_dict()
        write(f"\nPer process ({estimate.brokers} brokers, CONCURRENCY {estimate.concurrency})")
        write(f"  threads          {estimate.threads_per_process:>5}  " +
              ", ".join(f"{k} {v}" for k, v in estimate.threads.items() if v))
        write(f"  TCP connections  {estimate.tcp_per_process:>5}  consumers {estimate.subscription_groups} x "
              f"(brokers + 1) = {estimate.tcp_connections['consumers']}, producer {estimate.tcp_connections['producer']}"
              + (f", transactional producers {estimate.transactional_producers} x (brokers + 1) = "
                 f"{estimate.tcp_connections['transactional_producers']}" if estimate.transactional_producers else ""))
        write(f"  DB connections   {estimate.db_connections_per_process:>5}  at most, per database: CONCURRENCY + "
              f"subscription groups")
        mib = 2**20
        write(f"  peak memory      {estimate.peak_memory_bytes // mib:>5}  MiB: idle ~{IDLE_RSS_BYTES // mib} + buffers "
              f"{estimate.buffer_budget_bytes // mib} + librdkafka prefetch {estimate.subscription_groups} x "
              f"{estimate.prefetch_kbytes // 1024} (MAX_BUFFERED_BYTES)")
        if estimate.swarm_nodes:
            totals = data["totals"]
            write(f"\nSwarm of {estimate.swarm_nodes} nodes (+ supervisor): threads {totals['threads']}, "
                  f"TCP {totals['tcp_connections']}, DB {totals['db_connections']}")
