import os

from django.core.management.base import BaseCommand

from karafka_django.broker import broker_binary


class Command(BaseCommand):
    help = "Run the bundled Tansu broker (memory-only, for development) in the foreground."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=9092)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, port, host, **options):
        url = f"tcp://{host}:{port}"
        self.stdout.write(f"Tansu broker on {host}:{port} (memory only: data is gone when it stops)")
        self.stdout.flush()
        binary = broker_binary()
        os.execv(binary, [binary, "broker", "--listener-url", url, "--advertised-listener-url", url])
