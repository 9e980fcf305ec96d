"""A filter that uses the ORM on the listener thread (for the database connection bound test)."""

from karafka_django.filtering import BaseFilter, FilterResult

from .models import HookCall


class TouchesDatabase(BaseFilter):
    def apply(self, messages):
        HookCall.objects.exists()
        return FilterResult(messages)
