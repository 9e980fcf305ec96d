"""The admin pages' parameters: parsing that answers 400 (or 404) instead of 500, and the wrapper
that turns a bad parameter or a silent cluster into that answer."""

from __future__ import annotations

import re
from functools import wraps
from typing import Any, overload

from confluent_kafka import KafkaException
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.http import url_has_allowed_host_and_scheme

from ..conf import TOPIC_NAME

MAX_OFFSET = 2**63 - 1  # Kafka's offsets are signed 64-bit
CONFIG_KEY = re.compile(r"[a-z0-9.]{1,100}")
SECRET_MARKERS = ("password", "secret", "ssl.key", "sasl.oauthbearer", "token")


class BadRequest(Exception):
    """A query parameter a page cannot use: answered 400 with the message."""


@overload
def int_param(request: HttpRequest, name: str, default: int, low: int = 0, high: int = MAX_OFFSET) -> int: ...
@overload
def int_param(request: HttpRequest, name: str, default: None = None, low: int = 0, high: int = MAX_OFFSET) -> int | None: ...
def int_param(request: HttpRequest, name: str, default: int | None = None, low: int = 0,
              high: int = MAX_OFFSET) -> int | None:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"'{name}' must be an integer, not {raw!r}.") from None
    if not low <= value <= high:
        raise BadRequest(f"'{name}' must be between {low} and {high}, not {value}.")
    return value


def decimal(text: str) -> bool:
    """Digits an ``int()`` reads (``str.isdigit`` also accepts '²', which ``int()`` refuses)."""
    return text.isdecimal() and len(text) < 20


def positive(text: str) -> int:
    if not decimal(text) or int(text) < 1:
        raise BadRequest(f"a positive whole number is needed, not {text!r}.")
    return int(text)


def replication(text: str) -> int:
    """A replication factor, or -1 (the brokers' default) when left empty."""
    return -1 if text == "" else positive(text)


def topic_name(topic: str) -> str:
    """``topic`` when Kafka could have such a topic; otherwise the page is not found."""
    if not TOPIC_NAME.fullmatch(topic):
        raise Http404("not a Kafka topic name")
    return topic


def answers_bad_requests(view):
    """400 for a parameter the page cannot use; 503 when the cluster does not answer (never a 500)."""
    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except BadRequest as exc:
            return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
        except (KafkaException, TimeoutError) as exc:
            return HttpResponse(f"The Kafka cluster did not answer: {exc.args[0] if exc.args else 'timed out'}",
                                status=503, content_type="text/plain; charset=utf-8")
    return wrapped


def next_url(request: HttpRequest, default: str) -> str:
    """The form's ``next``, only when it points into this site."""
    wanted = request.POST.get("next")
    if wanted and url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return wanted
    return default


def masked(config: dict[str, Any]) -> dict[str, Any]:
    """librdkafka settings fit to show: secrets replaced by asterisks."""
    return {k: ("********" if any(m in k for m in SECRET_MARKERS) else v) for k, v in config.items()}
