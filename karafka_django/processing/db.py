"""Django database connection hygiene around jobs, as Django does around a request.

Django opens connections lazily per thread and ``close_old_connections`` closes the ones that
are past ``CONN_MAX_AGE``, unusable after an error, or (with ``CONN_HEALTH_CHECKS``) dead. Called
before and after every job it gives workers exactly the request lifecycle: with
``CONN_MAX_AGE=0`` a connection lives for one job, with a positive age a worker reuses its one
connection. A thread therefore never holds more than one connection per database alias.
"""

from __future__ import annotations

from django.db import close_old_connections, connections


def before_job() -> None:
    close_old_connections()


def after_job() -> None:
    close_old_connections()


def close_thread_connections() -> None:
    """A thread that ends closes its connections, so they are never left to the server."""
    connections.close_all()
