"""One way for the Admin API commands to report what went wrong: a one-line ``CommandError``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from confluent_kafka import KafkaException
from django.core.management.base import CommandError


@contextmanager
def as_command_errors(action: str, explain: Callable[[BaseException], str]) -> Iterator[None]:
    """A refusal already in words (``ValueError``, ``RuntimeError``) is the message; the cluster's
    answer, or none in time, is explained by ``explain`` (``clients.Failures``: wrong credentials
    leave a client only timing out). Anything else is a defect and keeps its traceback."""
    try:
        yield
    except (ValueError, RuntimeError) as exc:
        raise CommandError(str(exc)) from None
    except (KafkaException, TimeoutError) as exc:
        raise CommandError(f"{action} failed: {explain(exc)}") from exc
