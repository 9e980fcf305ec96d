"""The consumer server inside a process that owns the main thread (Karafka's ``Embedded``):
a gunicorn or uWSGI worker, an ASGI server, a management command of your own. The README's
recipes for each are run by the test suite.

    # gunicorn.conf.py
    def post_worker_init(worker):       # the worker has loaded Django by then
        from karafka_django import embedded
        embedded.start()

    def worker_exit(server, worker):
        from karafka_django import embedded
        embedded.stop()

    # asgi.py (uvicorn, hypercorn, daphne: any server that sends the lifespan events)
    application = embedded.lifespan(get_asgi_application())

The server runs on a thread of its own and installs no signal handler: the host stops it with
:func:`stop` (also registered with ``atexit``), which is the graceful stop of ``karafka_server``:
jobs in flight finish and their offsets are committed. It logs as ``karafka_server`` does,
serves ``/healthz`` and ``/metrics`` on ``metrics_port`` if given, and the database bound is the
same: CONCURRENCY + subscription groups connections, beside the host's own.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runtime.server import Server

_lock = threading.Lock()
_running: tuple[Server, threading.Thread, list[int]] | None = None

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def start(consumer_groups: list[str] | None = None, subscription_groups: list[str] | None = None,
          topics: list[str] | None = None, concurrency: int | None = None, metrics_port: int | None = None) -> Server:
    """Start the server (the routes ``karafka_server`` would run, narrowed the same way) on a
    thread; raises ``CommandError`` for invalid settings and ``RuntimeError`` if one is running."""
    # Imported here: a host imports this module before Django is set up (the server needs models).
    from .instrumentation import monitor
    from .instrumentation.logger import log_events
    from .loading import load_or_fail
    from .runtime.server import Server

    global _running
    with _lock:
        if _running is not None and _running[1].is_alive():
            raise RuntimeError("an embedded karafka server is already running in this process")
        config, routing = load_or_fail()
        selected = routing.select(consumer_groups, subscription_groups, topics)
        if not selected:
            raise RuntimeError("no active routes match the given consumer groups, subscription groups and topics")
        log_events(monitor)
        server = Server(config, selected, concurrency, metrics_port=metrics_port)
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


def lifespan(application: ASGIApp, **start_options: Any) -> ASGIApp:
    """``application`` (Django's ASGI handler, which refuses lifespan events) with the server
    started at the ASGI server's startup and stopped gracefully at its shutdown."""

    async def with_lifespan(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            return await application(scope, receive, send)
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await asyncio.to_thread(start, **start_options)
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(stop)
                await send({"type": "lifespan.shutdown.complete"})
                return

    return with_lifespan


atexit.register(stop)
