"""``karafka_server --reload``: restart the server when a Python file of the project changes,
with Django's own autoreloader (the one ``runserver`` uses), for development.

A parent process restarts a child (``RUN_MAIN=true``) that runs the server and watches the
files. On a change the child stops its server gracefully first (jobs finish, offsets are
committed), logs the file, and exits for the parent to start a new child. Signals to the parent
are passed on to the child: a stop signal stops its server the way ``karafka_server`` does,
SIGTSTP quiets it, SIGTTIN dumps its threads.

A child that cannot start (a syntax or import error in a file it loads) has printed its
traceback; the parent, as ``runserver`` does, stays up, logs ``app.reload_failed`` once and
starts a new child when a Python file of the project changes again.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import psutil
from django.utils import autoreload

from ..instrumentation import Monitor
from .server import EXIT_ERROR, Server

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
PASSED_ON = (*STOP_SIGNALS, signal.SIGTSTP, signal.SIGTTIN)
#: How often the parent looks at the files while it waits for a fix.
WATCH_INTERVAL_S = 0.5
#: A child exits with this to be restarted (Django's autoreloader's convention).
RELOAD_EXIT_CODE = 3


def run_with_reload(build: Callable[[], Server], monitor: Monitor) -> None:
    if os.environ.get(autoreload.DJANGO_AUTORELOAD_ENV) == "true":
        _serve_and_watch(build(), monitor)
    else:
        sys.exit(_restart_children(monitor))


def _restart_children(monitor: Monitor) -> int:
    stopping = threading.Event()

    def pass_on(signum: int, _frame: Any) -> None:
        if signum in STOP_SIGNALS:
            stopping.set()
        for child in psutil.Process().children():
            child.send_signal(signum)

    for signum in PASSED_ON:
        signal.signal(signum, pass_on)
    environ = {**os.environ, autoreload.DJANGO_AUTORELOAD_ENV: "true"}
    while True:
        files = _mtimes()  # as the child will load them: a fix saved any time after is seen
        code = subprocess.run(autoreload.get_child_arguments(), env=environ, close_fds=False).returncode
        if code == RELOAD_EXIT_CODE:
            continue
        if stopping.is_set() or code == 0:
            return code
        monitor.instrument("app.reload_failed", exit_code=code, waiting_for="a Python file of the project to change")
        while _mtimes() == files:
            if stopping.wait(WATCH_INTERVAL_S):
                return code


def _mtimes() -> dict[Any, float]:
    """The modification times of the Python files this process loaded (the reloader's set)."""
    found = {}
    for path in autoreload.iter_all_python_module_files():
        try:
            found[path] = path.stat().st_mtime
        except OSError:
            continue
    return found


def _serve_and_watch(server: Server, monitor: Monitor) -> None:
    reloading = threading.Event()
    stopped = threading.Event()

    def serve() -> None:
        code = server.run(handle_signals=False)
        stopped.set()
        if not reloading.is_set():  # stopped by a signal, a command or an error: end the process
            logging.shutdown()
            # A client fault (exit 3) is the autoreloader's "restart me": exit 1 instead, so the
            # parent waits for a fixed file rather than restarting into the same fault in a loop.
            os._exit(EXIT_ERROR if code == RELOAD_EXIT_CODE else code)

    def on_file_changed(sender: Any, file_path: Any, **kwargs: Any) -> None:
        reloading.set()
        monitor.instrument("app.reloading", file=str(file_path))
        server.stop()
        stopped.wait(server.config.shutdown_timeout_ms / 1000 + 5)
        # returning nothing lets Django end this process for the parent to start a new one

    autoreload.file_changed.connect(on_file_changed, weak=False)
    server.install_signal_handlers()  # the main thread is the reloader's; the server runs beside it
    autoreload.start_django(autoreload.get_reloader(), serve)
