"""karafka_django: Karafka's processing model for Django.

Public API: ``BaseConsumer``, ``route``, ``producer`` (the process-wide producer instance),
``Message`` and ``Messages``.
"""

from .consumer import BaseConsumer
from .messages import Message, Messages
from .producing.producer import producer
from .routing.registry import route

__all__ = ["BaseConsumer", "Message", "Messages", "producer", "route"]
