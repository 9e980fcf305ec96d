"""Django database connection hygiene around jobs: a worker is a long-lived thread, not a request.

Django opens connections lazily per thread and ``close_old_connections`` closes the ones that
are past ``CONN_MAX_AGE``, unusable after an error, or (with ``CONN_HEALTH_CHECKS``) dead. The
server's threads (workers, and listeners for hooks) call it before and after every job, with one
difference from a request: with ``CONN_MAX_AGE = 0``, Django's default, a connection is kept
across jobs instead of opened and closed for each (a connection per batch cost two thirds of the
throughput, and a connect storm on the database). It is still closed when an error left it
unusable, when its autocommit was left changed, and when it fails a check after the thread was
idle for ``IDLE_CHECK_S``; a positive ``CONN_MAX_AGE`` still caps its age, and ``None`` keeps it.
A thread therefore never holds more than one connection per database alias, and closes them when
it ends.

A job that starts right after the same thread's previous job ended (a worker taking the next
batch at once) skips the check before it: nothing used the connections since that job's end
checked them, so the check would find the same.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.db import close_old_connections, connections
from django.db.backends.signals import connection_created

#: A thread's connections checked this recently (seconds) are not checked again before a job.
RECHECKED_AFTER_S = 0.001
#: A connection that sat unused this long (seconds) is tried before a job, and replaced if dead
#: (a database restart, or its idle timeout, ended it meanwhile).
IDLE_CHECK_S = 30.0

_thread = threading.local()


def before_job() -> None:
    _thread.serves_jobs = True
    idle_s = time.monotonic() - getattr(_thread, "checked_at", float("-inf"))
    if idle_s >= RECHECKED_AFTER_S:
        close_old_connections()
    if idle_s >= IDLE_CHECK_S:
        for connection in connections.all(initialized_only=True):
            if connection.connection is not None and not connection.is_usable():
                connection.close()


def after_job() -> None:
    close_old_connections()
    _thread.checked_at = time.monotonic()


def close_thread_connections() -> None:
    """A thread that ends closes its connections, so they are never left to the server."""
    connections.close_all()


def _kept_across_jobs(sender: Any, connection: Any, **kwargs: Any) -> None:
    """A connection opened by a job with ``CONN_MAX_AGE = 0`` lives as long as it is healthy: Django
    gives it no age limit, as it does with ``None``; its other checks stay as they are."""
    if getattr(_thread, "serves_jobs", False) and connection.settings_dict["CONN_MAX_AGE"] == 0:
        connection.close_at = None


connection_created.connect(_kept_across_jobs, dispatch_uid="karafka_django.processing.db")
