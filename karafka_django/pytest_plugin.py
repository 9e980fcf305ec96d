"""The pytest plugin (entry point ``pytest11``): the ``karafka`` fixture.

Loaded by pytest before Django is configured, so it imports the test client only when a test
asks for the fixture (the client's modules need the app registry).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def karafka() -> Iterator[Any]:
    """A :class:`~karafka_django.testing.KarafkaTestClient` for the project's routes; captures
    the shared producer."""
    from .testing import KarafkaTestClient

    with KarafkaTestClient() as client:
        yield client
