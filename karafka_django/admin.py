"""Karafka's Web UI inside the Django admin: routing, processes, lag, errors, topics, commands.

Pages read the report, error and data topics (never a database table); commands are sent
through the commands topic, need the ``karafka_django.send_commands`` permission, are POSTs
under the admin's CSRF protection, and are written to the admin log.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from .conf import get_config
from .loading import load
from .models import Dashboard, TaskRecord
from .web import KafkaReader, masked

COMMANDS = ("pause", "resume", "quiet", "stop")


@admin.register(Dashboard)
class KarafkaAdmin(admin.ModelAdmin):
    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("", view(self.processes_view), name="karafka_processes"),
            # The admin index links a model to its changelist: here, the processes page.
            path("", view(self.processes_view), name="karafka_django_dashboard_changelist"),
            path("process/<str:process_id>/", view(self.process_view), name="karafka_process"),
            path("routing/", view(self.routing_view), name="karafka_routing"),
            path("consumers/", view(self.consumers_view), name="karafka_consumers"),
            path("errors/", view(self.errors_view), name="karafka_errors"),
            path("explorer/<str:topic>/<int:partition>/", view(self.explorer_view), name="karafka_explorer"),
            path("commands/", view(require_POST(self.command_view)), name="karafka_command"),
        ]

    # -- pages -----------------------------------------------------------------------------------

    def render(self, request: HttpRequest, template: str, **context: object) -> TemplateResponse:
        if not self.has_view_permission(request):
            raise Http404
        context.update(self.admin_site.each_context(request), title=context.get("title", "Karafka"),
                       opts=self.model._meta, can_command=request.user.has_perm("karafka_django.send_commands"))
        return TemplateResponse(request, f"admin/karafka_django/{template}", context)

    def processes_view(self, request: HttpRequest) -> TemplateResponse:
        return self.render(request, "processes.html", title="Karafka processes", processes=KafkaReader(get_config()).processes())

    def process_view(self, request: HttpRequest, process_id: str) -> TemplateResponse:
        found = [p for p in KafkaReader(get_config()).processes() if p["id"] == process_id]
        if not found:
            raise Http404("no live process with that id")
        return self.render(request, "process.html", title=f"Process {process_id}", process=found[0])

    def routing_view(self, request: HttpRequest) -> TemplateResponse:
        config, routing = load()
        reader = KafkaReader(config)
        lag: dict[tuple[str, str], int] = {}
        for process in reader.processes():
            for p in process["partitions"]:
                if (p["lag"] or -1) >= 0:
                    lag[(p["consumer_group"], p["topic"])] = lag.get((p["consumer_group"], p["topic"]), 0) + p["lag"]
        groups = []
        for cg in routing.consumer_groups:
            subs = []
            for sg in cg.subscription_groups:
                routes = [{"route": r, "partitions": len(reader.partitions(r.topic)) or None,
                           "lag": lag.get((cg.name, r.topic))} for r in sg.routes]
                subs.append({"group": sg, "routes": routes, "kafka": masked(sg.kafka_config(config.kafka))})
            groups.append({"name": cg.name, "subscription_groups": subs})
        return self.render(request, "routing.html", title="Karafka routing", groups=groups)

    def consumers_view(self, request: HttpRequest) -> TemplateResponse:
        rows = [{**p, "process": proc["id"]} for proc in KafkaReader(get_config()).processes() for p in proc["partitions"]]
        rows.sort(key=lambda r: (r["consumer_group"], r["topic"], r["partition"]))
        return self.render(request, "consumers.html", title="Karafka consumers and lag", rows=rows)

    def errors_view(self, request: HttpRequest) -> TemplateResponse:
        page = Paginator(KafkaReader(get_config()).errors(), 25).get_page(request.GET.get("page"))
        return self.render(request, "errors.html", title="Karafka errors", page=page)

    def explorer_view(self, request: HttpRequest, topic: str, partition: int) -> TemplateResponse:
        reader, per_page = KafkaReader(get_config()), 25
        before = request.GET.get("before")
        if before is None:
            found = reader.tail(topic, per_page) if partition in reader.partitions(topic) else []
            found = [m for m in found if m.partition == partition]
        else:
            start = max(0, int(before) - per_page)
            found = reader.read(topic, {partition: (start, int(before))})
        found = sorted(found, key=lambda m: m.offset, reverse=True)[:per_page]
        older = found[-1].offset if found and found[-1].offset > 0 else None
        return self.render(request, "explorer.html", title=f"{topic} / {partition}", topic=topic, partition=partition,
                           messages_=found, older=older)

    # -- commands --------------------------------------------------------------------------------

    def command_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("karafka_django.send_commands"):
            return HttpResponseForbidden("You may not send commands to karafka processes.")
        command = request.POST.get("command")
        if command not in COMMANDS:
            return HttpResponseForbidden("Unknown command.")
        payload = {"command": command, "process": request.POST.get("process", "*")}
        if command in ("pause", "resume"):
            payload.update(topic=request.POST["topic"], partition=int(request.POST["partition"]))
        KafkaReader(get_config()).send(payload)
        LogEntry.objects.create(
            user_id=request.user.pk, content_type_id=ContentType.objects.get_for_model(Dashboard).pk,
            object_id=payload["process"], object_repr=f"karafka {payload['process']}"[:200],
            action_flag=CHANGE, change_message=f"Sent command {payload}",
        )
        messages.success(request, f"Sent {command} to {payload['process']}.")
        return HttpResponseRedirect(request.POST.get("next") or reverse("admin:karafka_processes"))


@admin.register(TaskRecord)
class TaskRecordAdmin(admin.ModelAdmin):
    list_display = ("id", "task_path", "status", "enqueued_at", "finished_at")
    list_filter = ("status", "backend")
    search_fields = ("id", "task_path")
    readonly_fields = [f.name for f in TaskRecord._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
