"""Registrations only: the pages live in :mod:`karafka_django.web`."""

from django.contrib import admin
from django.http import HttpRequest

from .models import Dashboard, TaskRecord
from .web.dashboard import KarafkaAdmin

admin.site.register(Dashboard, KarafkaAdmin)


@admin.register(TaskRecord)
class TaskRecordAdmin(admin.ModelAdmin):
    list_display = ("id", "task_path", "status", "enqueued_at", "finished_at")
    list_filter = ("status", "backend")
    search_fields = ("id", "task_path")
    readonly_fields = [f.name for f in TaskRecord._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
