"""Consumer-group offsets: list, lag, seek, copy, delete (Karafka's Admin API as a command)."""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from karafka_django.cluster.groups import Groups, OffsetChange
from karafka_django.connection import clients
from karafka_django.loading import load_or_fail
from karafka_django.management.cluster_errors import as_command_errors


def partition_offset(value: str) -> tuple[int, int]:
    try:
        partition, offset = value.split(":")
        return int(partition), int(offset)
    except ValueError:
        raise CommandError(f"--to-offset takes PARTITION:OFFSET, e.g. 0:1200, not '{value}'") from None


class Command(BaseCommand):
    help = "Consumer groups: list them, show lag, move (seek), copy or delete their committed offsets."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="groups, state, members and total lag")
        lag = sub.add_parser("lag", help="committed offset, end (the last stable offset under read_committed, "
                                           "librdkafka's default; else the high watermark) and lag per partition")
        lag.add_argument("group")
        seek = sub.add_parser("seek", help="move a stopped group on one topic")
        seek.add_argument("group")
        seek.add_argument("topic")
        to = seek.add_mutually_exclusive_group(required=True)
        to.add_argument("--to-offset", nargs="+", metavar="PARTITION:OFFSET")
        to.add_argument("--to-time", metavar="ISO8601", help="the first message stamped at or after this time")
        to.add_argument("--to", choices=["earliest", "latest"])
        copy = sub.add_parser("copy", help="give TARGET the committed offsets of SOURCE")
        copy.add_argument("source")
        copy.add_argument("target")
        delete = sub.add_parser("delete", help="delete a stopped group and its offsets")
        delete.add_argument("group")
        for changing in (seek, copy, delete):
            changing.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")

    def handle(self, *args, action, **options):
        config, _ = load_or_fail()
        failures = clients.Failures()
        groups = Groups(config.tool_kafka, failures=failures)
        with as_command_errors(action, lambda exc: failures.explain(exc, groups.admin)):
            getattr(self, f"_{action}")(groups, **options)

    def _list(self, groups, **options):
        summaries = groups.summaries()
        if not summaries:
            self.stdout.write("No consumer groups.")
        for s in summaries:
            self.stdout.write(f"{s.name:<40} {s.state:<20} members {s.members:<4} lag {s.lag}")

    def _lag(self, groups, group, **options):
        rows = groups.lag(group)
        if not rows:
            self.stdout.write(f"'{group}' has no committed offsets.")
        for row in rows:
            committed = "-" if row.committed is None else row.committed
            lag = "-" if row.lag is None else row.lag
            self.stdout.write(f"{row.topic:<40} {row.partition:>4}  committed {committed:<10} "
                              f"end {row.high_watermark:<10} lag {lag}")

    def _seek(self, groups, group, topic, to_offset, to_time, to, dry_run, **options):
        if to_offset:
            changes = groups.plan_seek(group, topic, offsets=dict(map(partition_offset, to_offset)))
        else:
            position = to
            if to_time:
                try:
                    position = datetime.fromisoformat(to_time)
                except ValueError:
                    raise CommandError(f"--to-time takes an ISO 8601 time, e.g. 2026-11-25T08:00:00+00:00, not '{to_time}'") from None
            changes = groups.plan_seek(group, topic, position)
        self._change(groups, group, changes, dry_run)

    def _copy(self, groups, source, target, dry_run, **options):
        changes = groups.plan_copy(source, target)
        if not changes:
            raise CommandError(f"'{source}' has no committed offsets to copy.")
        self._change(groups, target, changes, dry_run)

    def _delete(self, groups, group, dry_run, **options):
        if dry_run:
            groups.refuse_if_live(group)
            self.stdout.write(f"Would delete consumer group '{group}' (dry run).")
            return
        groups.delete(group)
        self.stdout.write(f"Deleted consumer group '{group}'.")

    def _change(self, groups, group: str, changes: list[OffsetChange], dry_run: bool) -> None:
        for change in changes:
            self.stdout.write(f"{group} {change}")
        if dry_run:
            groups.refuse_if_live(group)
            self.stdout.write(f"Dry run: {len(changes)} offsets would change.")
            return
        groups.apply(group, changes)
        self.stdout.write(self.style.SUCCESS(f"Committed {len(changes)} offsets for '{group}'."))
