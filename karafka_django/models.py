from django.db import models


class TaskRecord(models.Model):
    """A Django Task enqueued through ``karafka_django.tasks.KafkaBackend``: its status and result.

    The message on Kafka carries only the id; this row is what the Tasks API reads
    (``task.get_result(id)``), and what makes a re-delivered message run its task only once.
    """

    id = models.CharField(primary_key=True, max_length=64)
    task_path = models.CharField(max_length=300)
    backend = models.CharField(max_length=100)
    queue_name = models.CharField(max_length=100)
    priority = models.IntegerField(default=0)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    status = models.CharField(max_length=20, db_index=True)
    enqueued_at = models.DateTimeField(null=True)
    started_at = models.DateTimeField(null=True)
    last_attempted_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    return_value = models.JSONField(null=True)
    errors = models.JSONField(default=list)  # [{"exception_class_path": ..., "traceback": ...}]
    worker_ids = models.JSONField(default=list)

    class Meta:
        verbose_name = "task"

    def __str__(self) -> str:
        return f"{self.task_path} {self.id} ({self.status})"


class Dashboard(models.Model):
    """No table: the admin's Karafka pages hang off this model (their URLs, their permission)."""

    class Meta:
        managed = False
        verbose_name = verbose_name_plural = "Karafka"
        default_permissions = ("view",)
        permissions = [("send_commands", "Can pause and resume partitions, quiet and stop processes"),
                       ("view_messages", "Can read message payloads, keys, headers and error tracebacks")]


class StoredOffset(models.Model):
    """The next offset of a partition for a route with ``offset_storage: "database"``.

    Written in the same transaction as the batch's own writes, so both land or neither does;
    the listener starts the partition here on assignment (the database, not Kafka, is the truth).
    """

    consumer_group = models.CharField(max_length=255)
    topic = models.CharField(max_length=255)
    partition = models.IntegerField()
    next_offset = models.BigIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["consumer_group", "topic", "partition"],
                                               name="karafka_stored_offset_unique")]

    def __str__(self) -> str:
        return f"{self.consumer_group} {self.topic}/{self.partition} @ {self.next_offset}"


class OutboxMessage(models.Model):
    """A message written by ``producer.produce_on_commit`` in the sender's transaction.

    Produced right after the commit and deleted; a row a dead process left behind is produced
    by the relay in ``karafka_server``. ``id`` travels as the ``karafka_message_id`` header.
    """

    id = models.UUIDField(primary_key=True)
    topic = models.CharField(max_length=255)
    key = models.BinaryField(null=True)
    value = models.BinaryField(null=True)
    headers = models.JSONField(default=list)  # [[name, base64 value], ...]
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.topic} {self.id}"


class ReceivedMessage(models.Model):
    """Ids of outbox messages a database-offset route processed: a relayed duplicate is dropped."""

    consumer_group = models.CharField(max_length=255)
    message_id = models.UUIDField()
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["consumer_group", "message_id"],
                                               name="karafka_received_message_unique")]
