"""The package as pip installs it from a wheel, outside this checkout: templates, migrations,
the pytest plugin and an SPDX license."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import karafka_django

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

SMOKE = """
import importlib.metadata, sys
import django
from django.conf import settings
settings.configure(
    INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
                    "django.contrib.sessions", "django.contrib.messages", "karafka_django"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
    KARAFKA={"KAFKA": {"bootstrap.servers": "127.0.0.1:9"}}, USE_TZ=True)
django.setup()
import karafka_django
from django.core.management import call_command
from django.db import connection
from django.template.loader import get_template
assert karafka_django.__file__.startswith(sys.argv[1]), karafka_django.__file__
call_command("migrate", "karafka_django", verbosity=0)
assert "karafka_django_storedoffset" in connection.introspection.table_names()
get_template("admin/karafka_django/search.html")
plugins = [e.value for e in importlib.metadata.entry_points(group="pytest11") if e.name == "karafka_django"]
assert plugins == ["karafka_django.pytest_plugin"], plugins
print("installed and working")
"""


def test_the_wheel_installs_and_works_outside_the_checkout(tmp_path):
    """The sdist and the wheel, built as a release would be and checked by twine."""
    subprocess.run([sys.executable, "-m", "build", "-q", "--outdir", str(tmp_path / "dist"), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    [wheel] = (tmp_path / "dist").glob("karafka_django-*.whl")
    [sdist] = (tmp_path / "dist").glob("karafka_django-*.tar.gz")
    checked = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert wheel.name.startswith(f"karafka_django-{karafka_django.__version__}-")
    names = zipfile.ZipFile(wheel).namelist()
    assert "karafka_django/templates/admin/karafka_django/dead_letters.html" in names
    assert "karafka_django/migrations/0002_exactly_once.py" in names and "karafka_django/pytest_plugin.py" in names
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "License-Expression: MIT" in metadata

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    smoke = subprocess.run([sys.executable, "-c", SMOKE, str(target)], cwd=tmp_path, env={"PYTHONPATH": str(target)},
                           capture_output=True, text=True, timeout=120)
    assert smoke.returncode == 0 and "installed and working" in smoke.stdout, smoke.stderr
