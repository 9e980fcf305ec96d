"""Routing: which topics are consumed, by which consumer class, in which groups."""

from .builder import Routing, build_routing
from .registry import route
from .route import ConsumerGroup, Route, SubscriptionGroup
from .topic_spec import TopicSpec

__all__ = ["ConsumerGroup", "Route", "Routing", "SubscriptionGroup", "TopicSpec", "build_routing", "route"]
