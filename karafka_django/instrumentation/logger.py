"""The logging listener: one structured ``event key=value ...`` line per notable event.

Quiet by default: lifecycle, rebalances, errors and the periodic status at INFO/ERROR;
per-batch lines only at DEBUG (and only subscribed when DEBUG is enabled).
"""

from __future__ import annotations

import logging
from typing import Any

from .monitor import EVENTS, Monitor

logger = logging.getLogger("karafka_django")

#: Events too frequent for INFO (per batch, per poll, per statistics interval).
QUIET_EVENTS = {
    "connection.listener.fetch_loop", "consumer.consumed", "consumer.revoked", "consumer.shutdown",
    "consumer.ticked", "filtering.skipped", "statistics.emitted", "worker.processed",
}
#: Events that need an operator even where the log is kept at WARNING.
WARNING_EVENTS = ("app.shutdown_blocked", "app.reload_failed")
INFO_EVENTS = tuple(e for e in EVENTS if e not in QUIET_EVENTS and e not in WARNING_EVENTS and e != "error.occurred")


def _format(value: Any) -> str:
    text = str(value)
    return f'"{text}"' if " " in text or not text else text


def format_line(event: str, payload: dict[str, Any]) -> str:
    fields = " ".join(f"{k}={_format(v)}" for k, v in payload.items() if k not in ("exception", "payload_excerpt"))
    return f"{event} {fields}".rstrip()


class LoggingListener:
    def subscribe_to(self, monitor: Monitor) -> None:
        for event in INFO_EVENTS:
            monitor.subscribe(event, self.info)
        for event in WARNING_EVENTS:
            monitor.subscribe(event, self.warning)
        monitor.subscribe("error.occurred", self.error)
        if logger.isEnabledFor(logging.DEBUG):
            monitor.subscribe("consumer.consumed", self.debug)

    def info(self, event: str, payload: dict[str, Any]) -> None:
        logger.info(format_line(event, payload))

    def warning(self, event: str, payload: dict[str, Any]) -> None:
        logger.warning(format_line(event, payload))

    def debug(self, event: str, payload: dict[str, Any]) -> None:
        logger.debug(format_line(event, payload))

    def error(self, event: str, payload: dict[str, Any]) -> None:
        exc = payload.get("exception")
        logger.error(format_line(event, payload), exc_info=(type(exc), exc, exc.__traceback__) if exc else None)


_logging_to: list[Monitor] = []


def log_events(monitor: Monitor) -> None:
    """The server's log lines for ``monitor``'s events, once per process (``karafka_server`` and
    an embedded server alike, however often the host starts one)."""
    if any(subscribed is monitor for subscribed in _logging_to):
        return
    ensure_console_logging()
    LoggingListener().subscribe_to(monitor)
    _logging_to.append(monitor)


def ensure_console_logging(level: int = logging.INFO) -> None:
    """Give the server a console at INFO unless the project's LOGGING already configured one."""
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(threadName)s] %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
