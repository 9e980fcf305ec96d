"""Exceptions raised by karafka_django."""


class KarafkaError(Exception):
    """Base class."""


class DeserializationError(KarafkaError):
    """A payload could not be deserialized; raised where ``.payload`` is first read."""

    def __init__(self, topic: str, partition: int, offset: int, cause: BaseException):
        self.topic, self.partition, self.offset, self.cause = topic, partition, offset, cause
        super().__init__(
            f"could not deserialize {topic}/{partition}@{offset}: {type(cause).__name__}: {cause}"
        )


class ProduceError(KarafkaError):
    """A message was not delivered by the producer; ``error`` is librdkafka's, when it said one."""

    def __init__(self, message: str, topic: str | None = None, error: object = None):
        super().__init__(message)
        self.topic, self.error = topic, error


class TransactionFailed(KarafkaError):
    """A Kafka transaction was aborted by the broker or the client (fenced, a rebalance moved the
    partition, the coordinator unreachable): nothing of it is visible, the batch runs again.
    ``rebalanced``: refused because the group's generation moved on (an ordinary rebalance)."""

    def __init__(self, message: str, rebalanced: bool = False):
        super().__init__(message)
        self.rebalanced = rebalanced
