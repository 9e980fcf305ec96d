"""What every admin page shares: rendering in the admin's frame, the permissions, the admin log."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse

from ..cluster.reader import TopicReader
from ..models import Dashboard
from .params import BadRequest, topic_name

VIEW_DASHBOARD = "karafka_django.view_dashboard"
VIEW_MESSAGES = "karafka_django.view_messages"
SEND_COMMANDS = "karafka_django.send_commands"
PER_PAGE = 25


class Pages(admin.ModelAdmin):
    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_active and request.user.has_perm(VIEW_DASHBOARD)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def render(self, request: HttpRequest, template: str, **context: object) -> TemplateResponse:
        context.update(self.admin_site.each_context(request), title=context.get("title", "Karafka"),
                       opts=self.model._meta, can_command=self.can_command(request),
                       can_read_messages=request.user.has_perm(VIEW_MESSAGES))
        return TemplateResponse(request, f"admin/karafka_django/{template}", context)

    @staticmethod
    def can_command(request: HttpRequest) -> bool:
        return request.user.has_perm(SEND_COMMANDS)

    @staticmethod
    def record_in_admin_log(request: HttpRequest, object_id: str, message: str) -> None:
        LogEntry.objects.create(
            user_id=request.user.pk,  # type: ignore[misc]  # a logged-in staff user (the admin's views)
            content_type_id=ContentType.objects.get_for_model(Dashboard).pk,
            object_id=object_id, object_repr=f"karafka {object_id}"[:200], action_flag=CHANGE, change_message=message,
        )

    @staticmethod
    def partition_of(reader: TopicReader, topic: str, partition: int) -> list[int]:
        """The topic's partitions, when ``partition`` is one of them."""
        partitions = reader.partitions(topic_name(topic))
        if not partitions:
            raise Http404(f"topic '{topic}' does not exist")
        if partition not in partitions:
            raise BadRequest(f"topic '{topic}' has partitions 0-{len(partitions) - 1}, not {partition}.")
        return partitions
