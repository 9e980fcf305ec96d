"""A Django Tasks backend on Kafka (Karafka's ActiveJob, the Django way).

    TASKS = {"default": {"BACKEND": "karafka_django.tasks.KafkaBackend",
                         "OPTIONS": {"topic": "django_tasks"}}}

``karafka_server`` consumes the backend's topic with :class:`TasksConsumer` in a subscription group
of its own (``<CLIENT_ID>_tasks``) unless a route names that topic (then the route's options win).

``enqueue`` writes a :class:`~karafka_django.models.TaskRecord` and produces its id to the
topic through the outbox (``producer.produce_on_commit``): a task enqueued in a transaction is
sent once it commits, even if the process dies right after the commit, and a rolled back task
is never sent. ``karafka_server`` runs tasks with its worker pool: the consumer's retries and
dead letter queue cover failures to run them, and a task whose record is finished is never run
again, so a re-delivered message does not repeat it. Results are read with the Tasks API.
Django 6's ``django.tasks`` is used where present, the ``django-tasks`` backport on Django 5.2.
"""

from __future__ import annotations

import socket
import traceback
import uuid
from typing import Any

from django.db import router
from django.utils import timezone
from django.utils.module_loading import import_string

try:
    from django.tasks import task
    from django.tasks.backends.base import BaseTaskBackend
    from django.tasks.base import TaskContext, TaskError, TaskResult, TaskResultStatus
    from django.tasks.exceptions import TaskResultDoesNotExist
except ImportError:  # Django 5.2: the backport (pip install 'karafka_django[tasks]')
    from django_tasks import task  # type: ignore[no-redef]
    from django_tasks.backends.base import BaseTaskBackend  # type: ignore[assignment]
    from django_tasks.base import TaskContext, TaskError, TaskResult, TaskResultStatus  # type: ignore[assignment]
    from django_tasks.exceptions import TaskResultDoesNotExist  # type: ignore[assignment]

from .consumer import BaseConsumer
from .instrumentation import monitor
from .models import TaskRecord
from .processing.dependencies import database_unavailable
from .producing.producer import producer

__all__ = ["KafkaBackend", "TasksConsumer", "run_task", "task"]

WORKER_ID = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"


class KafkaBackend(BaseTaskBackend):
    supports_get_result = True
    supports_priority = True
    default_topic = "django_tasks"
    kafka_consumer = "karafka_django.tasks.TasksConsumer"  # the routing builder routes the topic to it

    def __init__(self, alias: str, params: dict[str, Any]):
        super().__init__(alias, params)
        self.topic = self.options.get("topic", self.default_topic)
        self.enqueue_on_commit = self.options.get("enqueue_on_commit", True)

    def enqueue(self, task: Any, args: Any, kwargs: Any) -> TaskResult:
        self.validate_task(task)
        record = TaskRecord.objects.create(
            id=uuid.uuid4().hex, task_path=task.module_path, backend=self.alias, queue_name=task.queue_name,
            priority=task.priority, status=TaskResultStatus.READY, enqueued_at=timezone.now(),
            args=list(args), kwargs=dict(kwargs),
        )

        message = {"id": record.id, "backend": self.alias}
        if self.enqueue_on_commit:  # through the outbox: sent even if the process dies after the commit
            producer.produce_on_commit(self.topic, message, key=record.id)
        else:
            producer.produce_sync(self.topic, message, key=record.id)
        return to_result(record, task)

    def get_result(self, result_id: str) -> TaskResult:
        try:
            record = TaskRecord.objects.get(id=result_id, backend=self.alias)
        except TaskRecord.DoesNotExist:
            raise TaskResultDoesNotExist(result_id) from None
        return to_result(record, import_string(record.task_path))


def to_result(record: TaskRecord, task: Any) -> TaskResult:
    result: TaskResult = TaskResult(
        task=task, id=record.id, status=TaskResultStatus(record.status), enqueued_at=record.enqueued_at,
        started_at=record.started_at, last_attempted_at=record.last_attempted_at, finished_at=record.finished_at,
        args=record.args, kwargs=record.kwargs, backend=record.backend,
        errors=[TaskError(**error) for error in record.errors], worker_ids=list(record.worker_ids),
    )
    object.__setattr__(result, "_return_value", record.return_value)
    return result


def run_task(task_id: str) -> None:
    """Run a task once: a finished (or unknown) record is left alone."""
    record = TaskRecord.objects.filter(id=task_id).first()
    if record is None or record.status in (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED):
        return
    now = timezone.now()
    record.status, record.started_at, record.last_attempted_at = TaskResultStatus.RUNNING, record.started_at or now, now
    record.worker_ids = [*record.worker_ids, WORKER_ID]
    record.save(update_fields=["status", "started_at", "last_attempted_at", "worker_ids"])
    task = import_string(record.task_path)
    try:
        if task.takes_context:
            value = task.call(TaskContext(task_result=to_result(record, task)), *record.args, **record.kwargs)
        else:
            value = task.call(*record.args, **record.kwargs)
    except Exception as exc:
        if database_unavailable(exc, [router.db_for_write(TaskRecord)]):
            raise  # the database is down, the task did not fail: its partition waits and runs it again
        kind = type(exc)
        record.errors = [*record.errors, {"exception_class_path": f"{kind.__module__}.{kind.__qualname__}",
                                          "traceback": "".join(traceback.format_exception(exc))}]
        record.status = TaskResultStatus.FAILED
        monitor.error("task.error", exc, task=record.task_path, task_id=task_id)
    else:
        record.return_value, record.status = value, TaskResultStatus.SUCCESSFUL
    record.finished_at = timezone.now()
    record.save(update_fields=["errors", "status", "return_value", "finished_at"])


class TasksConsumer(BaseConsumer):
    """Route the tasks topic here; each message runs its task, and is marked as it finishes."""

    def consume(self, messages: Any) -> None:
        for message in messages:
            run_task(message.payload["id"])
            self.mark_as_consumed(message)
