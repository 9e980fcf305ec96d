"""librdkafka's own log lines, through Python logging and collapsed.

Every client the package creates passes ``logger=client_logger(kind)``, so librdkafka writes to
``karafka_django.librdkafka.<kind>`` (not to stderr, past the project's LOGGING). Under a
persistent fault librdkafka repeats one line per retry; the filter lets a line through once per
``WINDOW_S`` and says how many identical ones it held back.
"""

from __future__ import annotations

import logging
import re
import threading
import time

WINDOW_S = 10.0
#: Parts of a line that change between otherwise identical retries.
_VOLATILE = re.compile(r"\d+ms|after \d+|\d+/\d+ brokers|#\d+")


def shape(text: str) -> str:
    """A line without the parts that change between otherwise identical retries."""
    return _VOLATILE.sub("", text)


class CollapseRepeats(logging.Filter):
    def __init__(self, window_s: float = WINDOW_S):
        super().__init__()
        self.window_s = window_s
        self._seen: dict[str, tuple[float, int]] = {}  # shape -> (last let through, held back since)
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = shape(record.getMessage())
        now = time.monotonic()
        with self._lock:
            last, held = self._seen.get(key, (-self.window_s, 0))
            if now - last < self.window_s:
                self._seen[key] = (last, held + 1)
                return False
            self._seen[key] = (now, 0)
            if len(self._seen) > 1000:
                self._seen = {key: (now, 0)}
        if held:
            record.msg = f"{record.getMessage()} (and {held} identical lines in the last {now - last:.0f}s)"
            record.args = ()
        return True


def client_logger(kind: str) -> logging.Logger:
    """The logger librdkafka writes to for one kind of client (consumer, producer, admin)."""
    logger = logging.getLogger(f"karafka_django.librdkafka.{kind}")
    if not any(isinstance(f, CollapseRepeats) for f in logger.filters):
        logger.addFilter(CollapseRepeats())
    return logger
