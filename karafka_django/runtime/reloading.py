"""``karafka_server --reload``: restart the server when a Python file of the project changes,
with Django's own autoreloader (the one ``runserver`` uses), for development.

A parent process restarts a child (``RUN_MAIN=true``) that runs the server and watches the
files. On a change the child stops its server gracefully first (jobs finish, offsets are
committed), logs the file, and exits for the parent to start a new child. A stop signal to
the parent is passed on to the child, whose server stops the way ``karafka_server`` does.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import psutil
from django.utils import autoreload

from ..instrumentation import Monitor
from .server import Server

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGTSTP)


def run_with_reload(build: Callable[[], Server], monitor: Monitor) -> None:
    if os.environ.get(autoreload.DJANGO_AUTORELOAD_ENV) == "true":
        _serve_and_watch(build(), monitor)
    else:
        for signum in STOP_SIGNALS:
            signal.signal(signum, _pass_on_to_children)
        sys.exit(autoreload.restart_with_reloader())


def _pass_on_to_children(signum: int, _frame: Any) -> None:
    for child in psutil.Process().children():
        child.send_signal(signum)


def _serve_and_watch(server: Server, monitor: Monitor) -> None:
    reloading = threading.Event()
    stopped = threading.Event()

    def serve() -> None:
        code = server.run(handle_signals=False)
        stopped.set()
        if not reloading.is_set():  # stopped by a signal, a command or an error: end the process
            logging.shutdown()
            os._exit(code)

    def on_file_changed(sender: Any, file_path: Any, **kwargs: Any) -> None:
        reloading.set()
        monitor.instrument("app.reloading", file=str(file_path))
        server.stop()
        stopped.wait(server.config.shutdown_timeout_ms / 1000 + 5)
        # returning nothing lets Django end this process for the parent to start a new one

    autoreload.file_changed.connect(on_file_changed, weak=False)
    server.install_signal_handlers()  # the main thread is the reloader's; the server runs beside it
    autoreload.start_django(autoreload.get_reloader(), serve)
