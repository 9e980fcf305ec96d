"""Whether an error report may carry message content (an excerpt of the failed batch's first
payload, the stack frames' local variables in a Sentry event): the log, the errors topic and the
admin's errors page, Sentry and OpenTelemetry all get their error fields from the one
``error.occurred`` event, so this is decided once, there.

``KARAFKA['ERROR_PAYLOADS']``: True or False; None (the default) follows sentry-sdk 2.x's
``send_default_pii`` option, which is off unless the project turned it on. Without Sentry, and
with sentry-sdk 3.x, None means no message content: 3.x removed ``send_default_pii``, and its
``data_collection`` categories that could stand for it (``queues``, ``stack_frame_variables``)
are on by default, so following them would send payloads unless a project opted out. A project
that wants message content in its reports says ``ERROR_PAYLOADS = True``.
Keys and headers never leave the process in an error report.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("karafka_django.privacy")


def payloads_allowed(setting: bool | None) -> bool:
    if setting is not None:
        return setting
    return _sentry_sends_default_pii()


def _sentry_sends_default_pii() -> bool:
    """sentry-sdk 2.x's ``send_default_pii``, read from the client's options (public in 2.x and
    3.x alike); any failure to tell answers no."""
    try:
        import sentry_sdk
    except ImportError:
        return False
    try:
        return sentry_sdk.get_client().options.get("send_default_pii") is True
    except Exception:  # a Sentry we do not know: the safe answer
        logger.debug("could not read Sentry's send_default_pii", exc_info=True)
        return False
