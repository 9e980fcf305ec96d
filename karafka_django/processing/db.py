"""Django database connection hygiene around jobs, as Django does around a request.

Django opens connections lazily per thread and ``close_old_connections`` closes the ones that
are past ``CONN_MAX_AGE``, unusable after an error, or (with ``CONN_HEALTH_CHECKS``) dead. Called
before and after every job it gives workers exactly the request lifecycle: with
``CONN_MAX_AGE=0`` a connection lives for one job, with a positive age a worker reuses its one
connection. A thread therefore never holds more than one connection per database alias.

A job that starts right after the same thread's previous job ended (a worker taking the next
batch at once) skips the check before it: nothing used the connections since that job's end
checked them, so the check would find the same.
"""

from __future__ import annotations

import threading
import time

from django.db import close_old_connections, connections

#: A thread's connections checked this recently (seconds) are not checked again before a job.
RECHECKED_AFTER_S = 0.001

_checked = threading.local()


def before_job() -> None:
    if time.monotonic() - getattr(_checked, "at", float("-inf")) >= RECHECKED_AFTER_S:
        close_old_connections()


def after_job() -> None:
    close_old_connections()
    _checked.at = time.monotonic()


def close_thread_connections() -> None:
    """A thread that ends closes its connections, so they are never left to the server."""
    connections.close_all()
