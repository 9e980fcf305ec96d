"""The release as a user gets it: the sdist and wheel built and checked (twine), then the wheel
installed with its dependencies into a clean virtualenv (not this checkout, not editable) and the
demo shop's consumers run from it against the real broker."""

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

import karafka_django

ROOT = Path(__file__).resolve().parents[3]

CHECK_INSTALL = """
import importlib.metadata, sys
import django
django.setup()
import karafka_django
from django.template.loader import get_template
assert karafka_django.__file__.startswith(sys.prefix), karafka_django.__file__
get_template("admin/karafka_django/search.html")
plugins = [e.value for e in importlib.metadata.entry_points(group="pytest11") if e.name == "karafka_django"]
assert plugins == ["karafka_django.pytest_plugin"], plugins
print("installed", karafka_django.__version__)
"""
#: Orders written from offsets at or past ``ENDS`` (the topic's ends before this test fed it), and how many are paid.
COUNT_NEW_ORDERS = """
import functools, operator
from django.db.models import Q
from project.shop.models import Order
new = Order.objects.filter(functools.reduce(operator.or_, [Q(kafka_partition=p, kafka_offset__gte=o) for p, o in ENDS.items()]))
print(new.count(), new.filter(paid=True).count())
"""


def _orders_ends(bootstrap_servers: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": "release-test"})
    try:
        partitions = consumer.list_topics("orders", timeout=10).topics["orders"].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition("orders", p), timeout=10)[1] for p in partitions}
    finally:
        consumer.close()


def _build_and_check(dist: Path) -> Path:
    """The sdist and the wheel, built as a release would be and checked by twine; the wheel."""
    subprocess.run([sys.executable, "-m", "build", "-q", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    [wheel] = dist.glob("karafka_django-*.whl")
    [sdist] = dist.glob("karafka_django-*.tar.gz")
    checked = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert wheel.name.startswith(f"karafka_django-{karafka_django.__version__}-")
    names = zipfile.ZipFile(wheel).namelist()
    assert "karafka_django/templates/admin/karafka_django/dead_letters.html" in names
    assert "karafka_django/migrations/0002_exactly_once.py" in names and "karafka_django/pytest_plugin.py" in names
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "License-Expression: MIT" in metadata
    return wheel


def test_the_demo_runs_from_the_wheel_installed_in_a_clean_virtualenv(broker, tmp_path):
    wheel = _build_and_check(tmp_path / "dist")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    installed = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{wheel}[example]"],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr
    app = tmp_path / "app"  # the demo project without the package's source next to it
    shutil.copytree(ROOT / "project", app / "project", ignore=shutil.ignore_patterns("__pycache__", "tests"))
    shutil.copy(ROOT / "manage.py", app)
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp_path)), "DJANGO_SETTINGS_MODULE": "project.settings",
           "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers, "KAFKA_SESSION_TIMEOUT_MS": "6000",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.sqlite3'}"}

    def manage(*args: str) -> str:
        done = subprocess.run([python, "manage.py", *args], cwd=app, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    checked = subprocess.run([python, "-c", CHECK_INSTALL], cwd=app, env=env, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0 and f"installed {karafka_django.__version__}" in checked.stdout, checked.stderr
    manage("migrate", "-v0")
    manage("shop_feed", "--count", "1")  # creates the topics (if a test before has not) before the server subscribes
    count_new = f"ENDS = {_orders_ends(broker.bootstrap_servers)!r}\n{COUNT_NEW_ORDERS}"  # earlier tests' orders are not counted
    server = subprocess.Popen([python, "manage.py", "karafka_server"], cwd=app, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        manage("shop_feed", "--count", "20", "--rate", "1000")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and manage("shell", "-v0", "-c", count_new).split() != ["20", "16"]:
            time.sleep(0.2)
    finally:
        server.terminate()
        assert server.wait(30) == 0
    assert manage("shell", "-v0", "-c", count_new).split() == ["20", "16"], "20 new orders, 16 of them paid"
