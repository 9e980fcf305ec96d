"""The consumer server inside a process that owns the main thread (Karafka's ``Embedded``):
a gunicorn worker, an ASGI server, a management command of your own.

    # gunicorn.conf.py
    def post_fork(server, worker):
        from karafka_django import embedded
        embedded.start()

    def worker_exit(server, worker):
        from karafka_django import embedded
        embedded.stop()

The server runs on a thread of its own and installs no signal handler: the host stops it with
:func:`stop` (also registered with ``atexit``), which is the graceful stop of ``karafka_server``:
jobs in flight finish and their offsets are committed. The database bound is the same:
CONCURRENCY + subscription groups connections, beside the host's own.
"""

from __future__ import annotations

import atexit
import threading

from .loading import load_or_fail
from .runtime.server import Server

_lock = threading.Lock()
_running: tuple[Server, threading.Thread, list[int]] | None = None


def start(consumer_groups: list[str] | None = None, subscription_groups: list[str] | None = None,
          topics: list[str] | None = None, concurrency: int | None = None) -> Server:
    """Start the server (the routes ``karafka_server`` would run, narrowed the same way) on a
    thread; raises ``CommandError`` for invalid settings and ``RuntimeError`` if one is running."""
    global _running
    with _lock:
        if _running is not None and _running[1].is_alive():
            raise RuntimeError("an embedded karafka server is already running in this process")
        config, routing = load_or_fail()
        selected = routing.select(consumer_groups, subscription_groups, topics)
        if not selected:
            raise RuntimeError("no active routes match the given consumer groups, subscription groups and topics")
        server = Server(config, selected, concurrency)
        exit_code: list[int] = []
        thread = threading.Thread(target=lambda: exit_code.append(server.run(handle_signals=False)),
                                  name="karafka-embedded", daemon=True)
        thread.start()
        _running = (server, thread, exit_code)
        return server


def stop(timeout: float | None = None) -> int | None:
    """Stop the embedded server gracefully and wait for it (at most ``timeout`` seconds; the
    server's own SHUTDOWN_TIMEOUT_MS bounds it anyway). Returns its exit code, None if none ran
    or it has not stopped in time."""
    global _running
    with _lock:
        if _running is None:
            return None
        server, thread, exit_code = _running
        server.stop()
        thread.join(timeout)
        if thread.is_alive():
            return None
        _running = None
        return exit_code[0] if exit_code else None


atexit.register(stop)
