"""The example project: a shop whose orders and payments arrive through Kafka.

Every setting that differs between machines comes from the environment (django-environ);
the defaults run on the embedded broker (``manage.py karafka_broker``) and SQLite.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-not-secret")
DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "karafka_django",
    "project.shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "project.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Workers keep their one connection between batches, as a long-lived request thread would.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several workers write at once: take the write lock when a transaction starts (no
    # deadlocked lock upgrades), wait for it instead of failing, and let readers run (WAL).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"

KARAFKA = {
    "CLIENT_ID": "shop",
    "CONCURRENCY": env.int("KARAFKA_CONCURRENCY", default=5),
    # Publish process reports and errors for the admin's Karafka pages (/admin/karafka_django/dashboard/).
    "REPORTING": env.bool("KARAFKA_REPORTING", default=True),
    "KAFKA": {
        "bootstrap.servers": env("KAFKA_BOOTSTRAP_SERVERS", default="127.0.0.1:9092"),
        # A short session makes joins and failover quick (the broker waits for members to join).
        "session.timeout.ms": env.int("KAFKA_SESSION_TIMEOUT_MS", default=10000),
    },
    # Routes may live here or as @route on consumers in project/shop/consumers.py.
    "ROUTES": [
        {"topic": "payments", "consumer": "project.shop.consumers.PaymentsConsumer", "subscription_group": "payments"},
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s [%(threadName)s] %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {"karafka_django": {"handlers": ["console"], "level": env("KARAFKA_LOG_LEVEL", default="INFO")}},
}
