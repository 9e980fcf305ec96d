"""``./bench/peers/run``: karafka_django beside its Python peers and a raw confluent-kafka loop on
one Apache Kafka broker, the same topics and the same work (compare.py); one driver per peer."""
