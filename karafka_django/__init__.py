"""karafka_django: Karafka's processing model for Django.

Public API: ``BaseConsumer``, ``route``, ``producer`` (the process-wide producer instance),
``Message`` and ``Messages``.
"""

from importlib.metadata import PackageNotFoundError, version

from .consumer import BaseConsumer
from .messages import Message, Messages
from .producing.producer import producer
from .routing.registry import route

try:
    __version__ = version("karafka_django")
except PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "0+unknown"

__all__ = ["BaseConsumer", "Message", "Messages", "__version__", "producer", "route"]
