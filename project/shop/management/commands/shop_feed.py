"""Feed the example topics with orders and payments, showing progress, until Ctrl-C or --count."""

import itertools
import random
import time
import uuid

from confluent_kafka.admin import AdminClient, NewTopic
from django.core.management.base import BaseCommand

from karafka_django import producer
from karafka_django.conf import get_config

TOPICS = {"orders": 6, "payments": 3}


class Command(BaseCommand):
    help = "Create the shop topics and produce orders (and payments for most of them)."

    def add_arguments(self, parser):
        parser.add_argument("--rate", type=int, default=200, help="orders per second")
        parser.add_argument("--count", type=int, default=0, help="stop after this many orders (0: until Ctrl-C)")

    def handle(self, *args, rate, count, **options):
        self.create_topics()
        started, produced = time.monotonic(), 0
        feed = uuid.uuid4().hex[:8]  # order numbers are unique: two feeds never share one
        try:
            for n in itertools.count(1):
                number = f"ORD-{feed}-{n}"
                total = round(random.uniform(5, 500), 2)
                producer.produce_async("orders", {"number": number, "customer": f"customer-{n % 97}", "total": total}, key=number)
                if n % 5:
                    producer.produce_async("payments", {"order_number": number, "amount": total, "reference": f"PAY-{number}"}, key=number)
                produced = n
                if n % rate == 0:
                    self.stdout.write(f"fed {n} orders")
                    producer.flush()
                if count and n >= count:
                    break
                time.sleep(max(0.0, started + n / rate - time.monotonic()))
        except KeyboardInterrupt:
            pass
        producer.close()
        self.stdout.write(f"fed {produced} orders in total")

    def create_topics(self):
        admin = AdminClient({"bootstrap.servers": get_config().bootstrap_servers})
        existing = admin.list_topics(timeout=10).topics
        missing = [NewTopic(name, partitions) for name, partitions in TOPICS.items() if name not in existing]
        for name, future in (admin.create_topics(missing).items() if missing else []):
            future.result()
            self.stdout.write(f"created topic {name}")
