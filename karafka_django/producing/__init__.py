"""The process-wide producer, the outbox and its relay (``produce_on_commit``)."""
