"""One way to build a coordinator in unit tests; messages come from ``karafka_django.testing``."""

import pytest

from karafka_django import BaseConsumer
from karafka_django.deserializers import json_deserializer
from karafka_django.processing.coordinator import Coordinator
from karafka_django.processing.pause import Backoff
from karafka_django.routing import Route


@pytest.fixture
def make_coordinator():
    """``make_coordinator(consumer=..., backoff=..., **route_options)``: partition t/0 of group g."""

    def make(consumer: type = BaseConsumer, deserializer=json_deserializer, max_messages: int = 10,
             backoff: Backoff = Backoff(1000, 4000), budget=None, predecessor=None, **route_options) -> Coordinator:
        route = Route("t", consumer, "g", "g", deserializer, **route_options)
        return Coordinator("t", 0, route, max_messages, backoff, budget, predecessor)

    return make


@pytest.fixture
def coordinator(make_coordinator):
    return make_coordinator()
