"""A configuration problem, found while parsing settings or routes, reported as a system check."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """A configuration error: ``id`` is the system check id (``karafka.E0xx``)."""

    id: str
    msg: str
    hint: str | None = None


def did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"Did you mean '{close[0]}'?" if close else None
