"""Optional integrations, each a monitor listener named in ``KARAFKA['LISTENERS']``:
``otel.TracingListener`` (OpenTelemetry), ``statsd.StatsdListener`` (StatsD/DogStatsD),
``sentry.SentryListener`` (Sentry). Each needs its extra: ``pip install 'karafka_django[otel]'``."""
