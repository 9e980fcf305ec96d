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
        permissions = [("send_commands", "Can pause and resume partitions, quiet and stop processes")]
