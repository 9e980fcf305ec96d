from django.db import models


class Record(models.Model):
    """One processed message. Deliberately no unique constraint: duplicates must be visible."""

    topic = models.CharField(max_length=200)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    key = models.CharField(max_length=200, null=True)
    attempt = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["topic", "partition", "offset"])]


class HookCall(models.Model):
    name = models.CharField(max_length=20)
    topic = models.CharField(max_length=200)
    partition = models.IntegerField()
