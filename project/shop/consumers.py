"""The shop's consumers: orders and payments events written with the ORM.

Delivery is at-least-once, so both consumers are idempotent: a re-delivered batch (after a
crash or a rebalance) changes nothing the first delivery already wrote.
"""

from decimal import Decimal

from karafka_django import BaseConsumer, route

from .models import Order, Payment


@route("orders", subscription_group="orders")
class OrdersConsumer(BaseConsumer):
    def consume(self, messages):
        orders = [
            Order(
                number=m.payload["number"],
                customer=m.payload["customer"],
                total=Decimal(str(m.payload["total"])),
                kafka_partition=m.partition,
                kafka_offset=m.offset,
            )
            for m in messages
        ]
        Order.objects.bulk_create(orders, ignore_conflicts=True)
        # A payment may have arrived first (another topic, another partition): settle it now.
        paid = Payment.objects.filter(order_number__in=[o.number for o in orders]).values("order_number")
        Order.objects.filter(number__in=paid, paid=False).update(paid=True)


class PaymentsConsumer(BaseConsumer):
    """Routed in settings.KARAFKA['ROUTES'] (the other way to declare a route)."""

    def consume(self, messages):
        for m in messages:
            Payment.objects.get_or_create(
                reference=m.payload["reference"],
                defaults={"order_number": m.payload["order_number"], "amount": Decimal(str(m.payload["amount"]))},
            )
        # Settle only after the payments are committed: the orders consumer settles the other
        # way round after committing its orders, so whichever commits last sees the other.
        numbers = [m.payload["order_number"] for m in messages]
        Order.objects.filter(number__in=numbers, paid=False).update(paid=True)
