"""Dead letters: list a DLQ topic, replay its messages to the topics they came from."""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from karafka_django.cluster.dead_letters import DeadLetters, replay_group
from karafka_django.cluster.reader import TopicReader
from karafka_django.connection import clients
from karafka_django.loading import load_or_fail
from karafka_django.management.cluster_errors import as_command_errors


def original_address(value: str) -> tuple[str, int, int]:
    try:
        topic, partition, offset = value.rsplit(":", 2)
        return topic, int(partition), int(offset)
    except ValueError:
        raise CommandError(f"--original-offset takes TOPIC:PARTITION:OFFSET, e.g. orders:0:1200, not '{value}'") from None


def aware_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since takes an ISO 8601 time, e.g. 2026-11-25T08:00:00+00:00, not '{value}'") from None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


class Command(BaseCommand):
    help = "List a dead letter queue topic, or replay its messages to their original topics."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="newest first: original topic/partition/offset, error, age")
        listing.add_argument("topic")
        listing.add_argument("--page", type=int, default=1)
        listing.add_argument("--per-page", type=int, default=20)
        replay = sub.add_parser("replay", help="re-produce dead letters to their original topics (each once)")
        replay.add_argument("topic")
        replay.add_argument("--original-offset", nargs="+", type=original_address, metavar="TOPIC:PARTITION:OFFSET",
                            help="only these messages (the rest read is passed over)")
        replay.add_argument("--since", type=aware_time, metavar="ISO8601", help="only messages dead-lettered at or after this time")
        replay.add_argument("--limit", type=int, help="replay at most this many")
        replay.add_argument("--dry-run", action="store_true", help="show what would be replayed, change nothing")

    def handle(self, *args, action, topic, **options):
        config, _ = load_or_fail()
        reader = TopicReader(config.tool_kafka, failures=clients.Failures())
        try:
            with as_command_errors(action, reader.explain):
                getattr(self, f"_{action}")(config, DeadLetters(config, reader, topic), **options)
        finally:
            reader.close()

    def _list(self, config, letters, page, per_page, **options):
        if page < 1 or per_page < 1:
            raise CommandError("--page and --per-page start at 1.")
        shown, total = letters.page(page, per_page)
        pages = max(1, -(-total // per_page))
        self.stdout.write(f"{letters.topic}: {total} dead letters, page {page} of {pages}")
        now = timezone.now()
        for letter in shown:
            original = "{}/{}@{}".format(*letter.original) if letter.original else "(no original headers)"
            age = f"{int((now - letter.read.timestamp).total_seconds())}s" if letter.read.timestamp else "?"
            self.stdout.write(f"{letter.address:<30} {original:<40} {letter.error_class:<40} {age:>8}  {letter.error_message[:60]}")

    def _replay(self, config, letters, original_offset, since, limit, dry_run, **options):
        replayed = letters.replay(original_offset or (), since, limit, dry_run)
        for letter in replayed:
            self.stdout.write(f"{'would replay' if dry_run else 'replayed'} {letter.address} -> %s/%s@%s" % letter.original)
        verb = "Would replay" if dry_run else "Replayed"
        self.stdout.write(f"{verb} {len(replayed)} messages (position kept by consumer group '{replay_group(config)}').")
