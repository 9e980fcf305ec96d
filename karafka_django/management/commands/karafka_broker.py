import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from karafka_django.brokers import BrokerError, make_broker


class Command(BaseCommand):
    help = ("Run a development broker in the foreground: Tansu (memory only, bundled; the default) or, with --kafka, "
            "Apache Kafka from its jars (fetched once with Maven; needs Java 17).")
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--kafka", action="store_true", help="run Apache Kafka (KRaft) instead of Tansu")
        parser.add_argument("--brokers", type=int, default=1, help="Kafka nodes, on consecutive ports (--kafka)")
        parser.add_argument("--data", help="Kafka's data directory, kept and reused (default: a temporary one)")
        parser.add_argument("--port", type=int, default=9092, help="the (first) broker's port")

    def handle(self, *args, kafka, brokers, data, port, **options):
        if not kafka and data:
            raise CommandError("--data needs --kafka: Tansu keeps nothing on disk")
        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
        try:
            broker = make_broker("kafka" if kafka else "tansu", brokers=brokers, port=port, directory=data)
        except BrokerError as exc:
            raise CommandError(str(exc)) from None
        try:
            try:
                broker.start()
            except BrokerError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"{broker.describe()} on {broker.bootstrap_servers}")
            for node_id, pid, address in broker.nodes_running():
                self.stdout.write(f"node {node_id} pid {pid} {address}")
            self.stdout.flush()
            while not stopping.wait(1):
                if not any(True for _ in broker.nodes_running()):
                    raise CommandError("every broker node exited")
        finally:
            broker.stop()
