"""A filter that uses the ORM on the listener thread (for the database connection bound test)."""

from karafka_django.filtering import BaseFilter, FilterResult

from .models import HookCall


class TouchesDatabase(BaseFilter):
    def apply(self, messages):
        HookCall.objects.exists()
        return FilterResult(messages)


class FailsOnce(BaseFilter):
    """Raises on its first run in each process, then lets everything through."""

    failed = False

    def apply(self, messages):
        if not FailsOnce.failed:
            FailsOnce.failed = True
            raise RuntimeError("filter failed")
        return FilterResult(messages)
