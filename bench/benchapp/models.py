from django.db import models


class Row(models.Model):
    partition = models.IntegerField()
    offset = models.BigIntegerField()


class Arrival(models.Model):
    """When a message was processed, by which deploy run (bench/deploys.py measures the gaps)."""

    run = models.CharField(max_length=40)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    at = models.FloatField()
