"""SIGTTIN: write every thread's stack to the log, for "it hangs" reports (like Karafka's TTIN)."""

from __future__ import annotations

import logging
import sys
import threading
import traceback

logger = logging.getLogger("karafka_django")


def dump_thread_stacks() -> str:
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    parts = []
    for ident, frame in sys._current_frames().items():
        stack = "".join(traceback.format_stack(frame))
        parts.append(f"--- thread {names.get(ident, ident)} ---\n{stack}")
    text = "\n".join(parts)
    logger.warning("thread stacks (%d threads)\n%s", len(parts), text)
    return text
