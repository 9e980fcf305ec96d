from django.db import models


class Record(models.Model):
    """One processed message. Deliberately no unique constraint: duplicates must be visible."""

    topic = models.CharField(max_length=200)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    key = models.CharField(max_length=200, null=True)
    attempt = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["topic", "partition", "offset"])]


class HookCall(models.Model):
    name = models.CharField(max_length=20)
    topic = models.CharField(max_length=200)
    partition = models.IntegerField()


class Span(models.Model):
    """When a consumer's consume() or tick() ran, to check they never overlap."""

    kind = models.CharField(max_length=10)
    topic = models.CharField(max_length=200)
    partition = models.IntegerField()
    started = models.FloatField()
    ended = models.FloatField()
