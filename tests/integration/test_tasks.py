"""Django Tasks on Kafka: enqueued after commit, run once by karafka_server, results readable."""

import pytest
from django.db import transaction

from karafka_django import producer
from karafka_django.models import TaskRecord
from karafka_django.tasks import TaskResultStatus
from tests.integration.harness import wait_until
from tests.testapp.tasks import add, explode

pytestmark = pytest.mark.integration


def test_tasks_run_once_after_commit_and_never_after_rollback(kafka, make_server, settings):
    settings.KARAFKA = {**settings.KARAFKA, "KAFKA": {"bootstrap.servers": kafka.bootstrap_servers}}
    topic = kafka.create_topic("django_tasks", 2)
    server = make_server([{"topic": topic, "consumer": "karafka_django.tasks.TasksConsumer"}]).start()
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            add.enqueue(1, 2)
            raise RuntimeError("roll back")
        with transaction.atomic():
            result = add.enqueue(20, 22)
            assert result.status == TaskResultStatus.READY
        failing = explode.enqueue()
    finally:
        producer.close()

    wait_until(lambda: TaskRecord.objects.filter(status__in=["SUCCESSFUL", "FAILED"]).count() == 2, 40, "both tasks run")
    assert server.stop() == 0
    done = add.get_result(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL and done.return_value == 42
    assert len(done.worker_ids) == 1, "run exactly once"
    failed = explode.get_result(failing.id)
    assert failed.status == TaskResultStatus.FAILED and failed.errors[0].exception_class_path == "builtins.ValueError"
    assert TaskRecord.objects.count() == 2, "the rolled back task left nothing"
    assert len(kafka.read_all(topic)) == 2, "the rolled back task was never sent"
