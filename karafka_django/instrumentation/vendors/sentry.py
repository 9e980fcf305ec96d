"""Errors to Sentry, with Kafka's context as tags (``pip install 'karafka_django[sentry]'``):

    sentry_sdk.init(dsn="...")   # as for the rest of the Django project
    KARAFKA["LISTENERS"] = ["karafka_django.instrumentation.vendors.sentry.SentryListener"]

Every ``error.occurred`` that carries an exception (a consumer's ``consume``, ``tick`` or a hook,
a DLQ dispatch, a task run by the Tasks backend, the client) is captured through Sentry's SDK
in a scope tagged with topic, partition, offset, consumer group and consumer class.
"""

from __future__ import annotations

from typing import Any

import sentry_sdk

TAGS = (("topic", "kafka.topic"), ("partition", "kafka.partition"), ("first_offset", "kafka.offset"),
        ("consumer_group", "kafka.consumer_group"), ("consumer", "karafka.consumer"), ("type", "karafka.error_type"),
        ("task", "django.task"))


class SentryListener:
    def on_error_occurred(self, _event: str, payload: dict[str, Any]) -> None:
        exception = payload.get("exception")
        if exception is None:
            return
        with sentry_sdk.new_scope() as scope:
            for key, tag in TAGS:
                if payload.get(key) is not None:
                    scope.set_tag(tag, str(payload[key]))
            scope.set_context("karafka", {k: str(v) for k, v in payload.items() if k != "exception"})
            sentry_sdk.capture_exception(exception)
