"""Settings for the test suite and for the servers it starts (``manage.py karafka_server``).

PostgreSQL is the database (connections are counted); the broker address comes from the
environment set by the test session. ``KARAFKA_TEST_OVERRIDES`` (JSON) is how a test gives the
server process it starts its own routes and settings.
"""

import json
import os
from typing import Any

import environ

env = environ.Env()

SECRET_KEY = "tests"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "karafka_django",
    "tests.testapp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
STATIC_URL = "static/"
# Django's own defaults (CONN_MAX_AGE 0, no health checks), as a project that adds the app has them;
# DATABASE_CONN_MAX_AGE gives a server under test another age.
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:55432/karafka")}
if (max_age := os.environ.get("DATABASE_CONN_MAX_AGE")) is not None:
    DATABASES["default"]["CONN_MAX_AGE"] = None if max_age == "none" else int(max_age)

KARAFKA: dict[str, Any] = {
    "CLIENT_ID": "karafka-tests",
    "CONCURRENCY": 4,
    "MAX_WAIT_TIME_MS": 500,
    "STATUS_INTERVAL_MS": 1000,
    "PAUSE_TIMEOUT_MS": 200,
    "PAUSE_MAX_TIMEOUT_MS": 1000,
    "SHUTDOWN_TIMEOUT_MS": 30000,
    "KAFKA": {
        "bootstrap.servers": env("KAFKA_BOOTSTRAP_SERVERS", default="127.0.0.1:9092"),
        # A killed server's partitions go to the others after its session: keep it short.
        "session.timeout.ms": 6000,
        "max.poll.interval.ms": 10000,
        "statistics.interval.ms": 1000,
    },
    "ROUTES": [],
}
_overrides = json.loads(env("KARAFKA_TEST_OVERRIDES", default="{}"))
if "TASKS" in _overrides:  # a Kafka Tasks backend routes its topic: only the tests of tasks configure one
    TASKS = _overrides.pop("TASKS")
KARAFKA["KAFKA"].update(_overrides.pop("KAFKA", {}))
KARAFKA["KAFKA"] = {key: value for key, value in KARAFKA["KAFKA"].items() if value is not None}  # None: unset
KARAFKA.update(_overrides)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "level"}},
    "formatters": {"level": {"format": "%(levelname)s %(message)s"}},
    "loggers": {"karafka_django": {"handlers": ["console"], "level": env("KARAFKA_LOG_LEVEL", default="INFO")}},
}
