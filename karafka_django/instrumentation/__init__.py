"""Instrumentation: the events bus, its logging listener and statistics."""

from .monitor import Monitor, monitor

__all__ = ["Monitor", "monitor"]
