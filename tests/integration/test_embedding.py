"""The embedding recipes of the docs (guides/integrations.md), run as written: gunicorn, an ASGI server's lifespan, uWSGI.
Each host consumes, logs through the server's listeners, answers /healthz, and stops the
server gracefully (offsets committed) when it is stopped itself."""

import json
import signal
import sys
from pathlib import Path

import pytest

from karafka_django.brokers import free_port
from project.shop.tests.docs_blocks import docs_block
from tests.integration.harness import ROOT, health, unique, wait_until
from tests.testapp.models import Record

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


def _host(recipe: str, module: str, tmp_path: Path, metrics_port: int) -> Path:
    """The recipe written as ``module``.py, with the test's metrics port."""
    path = tmp_path / f"{module}.py"
    path.write_text(docs_block(recipe).replace("9394", str(metrics_port)))
    return path


def _commands(tmp_path: Path, metrics_port: int) -> dict[str, list[str]]:
    web = f"127.0.0.1:{free_port()}"
    gunicorn_conf = _host("# gunicorn.conf.py", "gunicorn_conf", tmp_path, metrics_port)
    _host("# asgi.py", "asgi_recipe", tmp_path, metrics_port)
    _host("# wsgi.py", "wsgi_recipe", tmp_path, metrics_port)
    return {
        "gunicorn": [sys.executable, "-m", "gunicorn", "-c", str(gunicorn_conf), "--bind", web,
                     "django.core.wsgi:get_wsgi_application()"],
        "uvicorn": [sys.executable, "-m", "uvicorn", "--app-dir", str(tmp_path), "--host", web.split(":")[0],
                    "--port", web.split(":")[1], "--lifespan", "on", "asgi_recipe:application"],
        "uwsgi": [str(BIN / "uwsgi"), "--http-socket", web, "--master", "--processes", "1", "--enable-threads",
                  "--die-on-term", "--pythonpath", str(ROOT), "--pythonpath", str(tmp_path), "--module", "wsgi_recipe:application"],
    }


@pytest.mark.parametrize("host", ["gunicorn", "uvicorn", "uwsgi"])
def test_a_host_runs_the_readme_recipe_consumes_logs_answers_healthz_and_stops_gracefully(host, kafka, make_server, tmp_path):
    topic, dlq = kafka.create_topic(unique(f"hosted_{host}"), 2), unique(f"hosted_{host}_dlq")
    ends = kafka.produce(topic, [(n % 2, b"k", json.dumps({"poison": n == 7}).encode()) for n in range(40)])
    metrics_port = free_port()
    route = {"topic": topic, "consumer": "tests.testapp.consumers.RecordingConsumer",
             "dead_letter_queue": {"topic": dlq, "max_retries": 0}}
    server = make_server([route], command=_commands(tmp_path, metrics_port)[host],
                         KAFKA={"auto.commit.interval.ms": 200}).start()
    wait_until(lambda: Record.objects.filter(topic=topic).count() == 39, 60, f"39 messages consumed under {host}")
    assert health(metrics_port)["healthy"] is True, f"/healthz on the embedded server's port:\n{server.log()}"
    wait_until(lambda: kafka.committed(make_server.group, topic, 2) == ends, 30, "the offsets committed")
    log = server.log()
    assert "app.running" in log and "partitions_assigned" in log, f"the server's lifecycle in the host's log:\n{log}"
    assert "consumer.consume.error" in log and f"dead_letter_topic={dlq}" in log, "the failure and its DLQ dispatch logged"
    assert server.stop(60) in (0, -signal.SIGTERM), server.log()  # uvicorn ends by re-raising the signal, by convention
    assert "app.stopped" in server.log() and "exit_code=0" in server.log(), f"the host stopped the server gracefully:\n{server.log()}"
