"""Settings for the benchmarks: PostgreSQL (for the ORM run) and the broker the run starts."""

import json

import environ

env = environ.Env()
SECRET_KEY = "bench"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "karafka_django", "bench.benchapp"]
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:55432/karafka_bench")}
DATABASES["default"]["CONN_MAX_AGE"] = 60
KARAFKA = {
    "CLIENT_ID": "bench",
    "MAX_WAIT_TIME_MS": 250,
    "STATUS_INTERVAL_MS": 60000,
    "KAFKA": {
        "bootstrap.servers": env("KAFKA_BOOTSTRAP_SERVERS", default="127.0.0.1:9092"),
        "session.timeout.ms": 6000,
        "auto.commit.interval.ms": 100,
        "statistics.interval.ms": 0,
    },
}
_overrides = json.loads(env("KARAFKA_BENCH_OVERRIDES", default="{}"))
KARAFKA["KAFKA"].update(_overrides.pop("KAFKA", {}))
KARAFKA["KAFKA"] = {key: value for key, value in KARAFKA["KAFKA"].items() if value is not None}  # None: unset
KARAFKA.update(_overrides)
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"console": {"class": "logging.StreamHandler"}},
           "loggers": {"karafka_django": {"handlers": ["console"], "level": "WARNING"}}}
