"""Whether an error report may carry message content (an excerpt of the failed batch's first
payload): the log, the errors topic and the admin's errors page, Sentry and OpenTelemetry all
get their error fields from the one ``error.occurred`` event, so this is decided once, there.

``KARAFKA['ERROR_PAYLOADS']``: True or False; None (the default) follows Sentry's
``send_default_pii``, which is off unless the project turned it on (and off without Sentry).
Keys and headers never leave the process in an error report.
"""

from __future__ import annotations


def payloads_allowed(setting: bool | None) -> bool:
    if setting is not None:
        return setting
    try:
        import sentry_sdk
    except ImportError:
        return False
    return bool(sentry_sdk.get_client().should_send_default_pii())
