"""Errors to Sentry, with Kafka's context as tags (``pip install 'karafka_django[sentry]'``):

    sentry_sdk.init(dsn="...")   # as for the rest of the Django project
    KARAFKA["LISTENERS"] = ["karafka_django.instrumentation.vendors.sentry.SentryListener"]

Every ``error.occurred`` that carries an exception (a consumer's ``consume``, ``tick`` or a hook,
a DLQ dispatch, a task run by the Tasks backend, the client) is captured through Sentry's SDK
in a scope tagged with topic, partition, offset, consumer group and consumer class.

A batch that keeps failing is one event, at its first attempt (its retries and the backoff are
in the log and the admin, as state changes): a poison message retried for an hour does not
spend the project's Sentry quota. No message content is sent unless ``KARAFKA['ERROR_PAYLOADS']``
allows it (by default: sentry-sdk 2.x's ``send_default_pii``; never with 3.x unless the setting says
True, see :mod:`karafka_django.instrumentation.privacy`): the stack frames' local variables, where a
consumer holds its payloads, are left out of these events otherwise. Works with sentry-sdk 2.x
and 3.x through their public API only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sentry_sdk

from ...conf import get_config
from ..privacy import payloads_allowed

if TYPE_CHECKING:
    from sentry_sdk.types import Event

TAGS = (("topic", "kafka.topic"), ("partition", "kafka.partition"), ("first_offset", "kafka.offset"),
        ("consumer_group", "kafka.consumer_group"), ("consumer", "karafka.consumer"), ("type", "karafka.error_type"),
        ("task", "django.task"))
#: Errors of a batch that is retried: reported at the first attempt only.
RETRIED = ("consumer.consume.error", "consumer.tick.error")


def _without_locals(event: Event, _hint: dict[str, Any]) -> Event:
    for exception in (event.get("exception") or {}).get("values") or ():
        for frame in (exception.get("stacktrace") or {}).get("frames") or ():
            frame.pop("vars", None)
    return event


class SentryListener:
    def on_error_occurred(self, _event: str, payload: dict[str, Any]) -> None:
        exception = payload.get("exception")
        if exception is None or (payload.get("type") in RETRIED and (payload.get("attempt") or 1) > 1):
            return
        with sentry_sdk.new_scope() as scope:
            for key, tag in TAGS:
                if payload.get(key) is not None:
                    scope.set_tag(tag, str(payload[key]))
            scope.set_context("karafka", {k: str(v) for k, v in payload.items() if k != "exception"})
            if not payloads_allowed(get_config().error_payloads):
                scope.add_event_processor(_without_locals)
            sentry_sdk.capture_exception(exception)
