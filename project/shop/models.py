from django.db import models


class Order(models.Model):
    number = models.CharField(max_length=40, unique=True)
    customer = models.CharField(max_length=100)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    paid = models.BooleanField(default=False)
    kafka_partition = models.IntegerField()
    kafka_offset = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.number


class Payment(models.Model):
    order_number = models.CharField(max_length=40, db_index=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    reference = models.CharField(max_length=60, unique=True)
    received_at = models.DateTimeField(auto_now_add=True)
