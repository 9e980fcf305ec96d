"""Django Tasks on Kafka: enqueued after commit, run once by karafka_server, results readable;
the backend's topic is consumed without a hand-written route."""

import pytest
from django.core.management import call_command
from django.db import transaction

from karafka_django import producer
from karafka_django.loading import load
from karafka_django.models import TaskRecord
from karafka_django.tasks import TaskResultStatus
from tests.integration.harness import unique, wait_until
from tests.testapp.tasks import add, explode

pytestmark = pytest.mark.integration


def kafka_tasks(topic: str) -> dict:
    return {"default": {"BACKEND": "karafka_django.tasks.KafkaBackend", "OPTIONS": {"topic": topic}}}


@pytest.fixture
def tasks_topic(producing_to, settings):
    """A Kafka Tasks backend in this process on a fresh topic (the server gets the same TASKS)."""
    topic = producing_to.create_topic(unique("tasks"), 2)
    settings.TASKS = kafka_tasks(topic)
    yield topic
    producer.close()


def test_tasks_run_once_after_commit_and_never_after_rollback(kafka, make_server, tasks_topic):
    # No route names the tasks topic: the backend routes it.
    server = make_server([], TASKS=kafka_tasks(tasks_topic)).start()
    with pytest.raises(RuntimeError), transaction.atomic():
        add.enqueue(1, 2)
        raise RuntimeError("roll back")
    with transaction.atomic():
        result = add.enqueue(20, 22)
        assert result.status == TaskResultStatus.READY
    failing = explode.enqueue()

    wait_until(lambda: TaskRecord.objects.filter(status__in=["SUCCESSFUL", "FAILED"]).count() == 2, 40, "both tasks run")
    assert server.stop() == 0
    done = add.get_result(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL and done.return_value == 42
    assert len(done.worker_ids) == 1, "run exactly once"
    failed = explode.get_result(failing.id)
    assert failed.status == TaskResultStatus.FAILED and failed.errors[0].exception_class_path == "builtins.ValueError"
    assert TaskRecord.objects.count() == 2, "the rolled back task left nothing"
    assert len(kafka.read_all(tasks_topic)) == 2, "the rolled back task was never sent"


def test_the_tasks_topic_gets_its_own_subscription_group_unless_a_route_names_it(settings, tasks_topic):
    settings.KARAFKA = {**settings.KARAFKA, "CLIENT_ID": "app", "ROUTES": [
        {"topic": "orders", "consumer": "tests.testapp.consumers.RecordingConsumer", "initial_offset": "latest"}]}
    implicit = next(route for route in load().routing.routes if route.topic == tasks_topic)
    assert (implicit.consumer_group, implicit.subscription_group) == ("app", "app_tasks")
    assert implicit.initial_offset == "earliest", "tasks enqueued before the first start are run"
    assert not load().problems

    settings.KARAFKA = {**settings.KARAFKA, "ROUTES": [
        {"topic": tasks_topic, "consumer": "karafka_django.tasks.TasksConsumer", "initial_offset": "latest"}]}
    routes = [route for route in load().routing.routes if route.topic == tasks_topic]
    assert len(routes) == 1 and routes[0].initial_offset == "latest", "the explicit route wins, with its options"


def test_karafka_topics_migrate_creates_the_tasks_and_reports_topics(kafka, settings, tasks_topic, capsys):
    reports = unique("reports")
    settings.KARAFKA = {**settings.KARAFKA, "REPORTING": True, "REPORTS_TOPIC": reports, "ROUTES": []}
    tasks = unique("tasks")
    settings.TASKS = kafka_tasks(tasks)
    call_command("karafka_topics", "migrate")
    out = capsys.readouterr().out
    assert tasks in out and reports in out
    # created once the controller says so; a broker's metadata learns it a moment later
    wait_until(lambda: {tasks, reports} <= set(kafka.admin.list_topics(timeout=10).topics), 20, "both topics in the metadata")


def test_a_server_creates_its_missing_tasks_and_reports_topics_before_anything_reaches_them(kafka, make_server, settings,
                                                                                           producing_to):
    tasks, reports = unique("tasks"), unique("reports")
    settings.TASKS = kafka_tasks(tasks)
    server = make_server([], TASKS=kafka_tasks(tasks), REPORTING=True, REPORTS_TOPIC=reports).start()
    server.wait_for_log("topics.created", 40)
    topics = kafka.admin.list_topics(timeout=10).topics
    assert len(topics[tasks].partitions) == 6, "the documented count, not the broker's default"
    assert len(topics[reports].partitions) == 1
    with transaction.atomic():
        result = add.enqueue(1, 2)
    wait_until(lambda: add.get_result(result.id).status == TaskResultStatus.SUCCESSFUL, 40, "the task run")
    assert server.stop() == 0
