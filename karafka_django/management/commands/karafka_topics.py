"""Declarative topics, like migrations: ``plan`` first, then ``migrate``; idempotent."""

from django.core.management.base import BaseCommand, CommandError

from karafka_django.cluster.topics import Topics, topics_to_manage
from karafka_django.connection import clients
from karafka_django.loading import load_or_fail
from karafka_django.management.cluster_errors import as_command_errors


class Command(BaseCommand):
    help = "Plan and apply the topics that routes declare (route 'config': partitions, replication, configs)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("plan", help="show what migrate would change")
        sub.add_parser("migrate", help="create missing topics, add partitions, align configs")
        sub.add_parser("create", help="create the declared topics that do not exist (nothing else)")
        delete = sub.add_parser("delete", help="delete the declared topics (asks first)")
        delete.add_argument("--yes", action="store_true", help="do not ask")
        repartition = sub.add_parser("repartition", help="raise one topic's partition count")
        repartition.add_argument("topic")
        repartition.add_argument("partitions", type=int)

    def handle(self, *args, action, **options):
        config, routing = load_or_fail()
        specs = topics_to_manage(config, routing)
        if not specs:
            self.stdout.write("No topic to manage: no route declares its topic (add 'config': {'partitions': N} to a route).")
            return
        failures = clients.Failures()
        topics = Topics(config.producer_kafka, failures)
        with as_command_errors(action, lambda exc: failures.explain(exc, topics.admin)):
            getattr(self, f"_{action}")(topics, specs, **options)

    def _plan(self, topics, specs, **options):
        changes = topics.plan(specs)
        if not changes:
            self.stdout.write(f"No changes: {len(specs)} declared topics match the cluster.")
        for change in changes:
            self.stdout.write(str(change))
        return changes

    def _migrate(self, topics, specs, **options):
        changes = self._plan(topics, specs)
        refused = [c for c in changes if c.action == "refused"]
        if refused:  # like a migration that cannot run: nothing is applied
            raise CommandError(f"{len(refused)} changes cannot be made by Kafka (see 'refused' above); nothing applied.")
        topics.apply(changes)
        if changes:
            self.stdout.write(self.style.SUCCESS(f"Applied {len(changes)} changes."))

    def _create(self, topics, specs, **options):
        creates = [c for c in topics.plan(specs) if c.action == "create"]
        topics.apply(creates)
        self.stdout.write(f"Created {len(creates)} topics." if creates else "No topic to create.")

    def _delete(self, topics, specs, yes=False, **options):
        names = sorted(name for name, spec in specs.items() if not spec.create_only)
        if not yes:
            answer = input(f"Delete {', '.join(names)} and every message in them? Type 'yes': ")
            if answer.strip() != "yes":
                raise CommandError("Nothing deleted.")
        topics.delete(names)
        self.stdout.write(f"Deleted {len(names)} topics.")

    def _repartition(self, topics, specs, topic, partitions, **options):
        if topic not in specs:
            raise CommandError(f"'{topic}' is not a declared topic.")
        spec = specs[topic]
        from dataclasses import replace

        changes = [c for c in topics.plan({topic: replace(spec, partitions=partitions)}) if c.action in ("add_partitions", "refused")]
        if not changes:
            self.stdout.write(f"'{topic}' already has {partitions} partitions.")
            return
        if changes[0].action == "refused":
            raise CommandError(changes[0].detail)
        topics.apply(changes)
        self.stdout.write(f"'{topic}' now has {partitions} partitions; declare them in the route too.")
