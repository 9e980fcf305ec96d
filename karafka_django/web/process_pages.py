"""The pages of the processes: processes, a process, routing, jobs, charts, consumers and lag,
errors, and the commands sent to processes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import reverse

from ..loading import load
from ..routing import Route
from .charts import RANGES, charts, line_chart
from .pages import PER_PAGE, Pages
from .params import BadRequest, decimal, masked, next_url
from .reports import AdminReader

COMMANDS = ("pause", "resume", "quiet", "stop")
CONFIRMED_COMMANDS = ("quiet", "stop")  # they end a process's work: asked once more
ERROR_FILTERS = ("error_class", "consumer", "type")


class ProcessPages(Pages):
    def processes_view(self, request: HttpRequest) -> TemplateResponse:
        reader = AdminReader.shared()
        return self.render(request, "processes.html", title="Karafka processes", processes=reader.processes(),
                           unreadable=reader.reports.unreadable)

    def process_view(self, request: HttpRequest, process_id: str) -> TemplateResponse:
        found = [p for p in AdminReader.shared().processes() if p["id"] == process_id]
        if not found:
            raise Http404("no live process with that id")
        process = found[0]
        flags = process["flags"]["partitions"]
        partitions = [{**p, "flags": flags.get((p["consumer_group"], p["topic"], p["partition"]), [])}
                      for p in process["partitions"]]
        return self.render(request, "process.html", title=f"Process {process_id}", process=process, partitions=partitions)

    def routing_view(self, request: HttpRequest) -> TemplateResponse:
        config, routing = load()
        reader = AdminReader.shared()
        lag: dict[tuple[str, str], int] = {}
        for process in reader.processes():
            for p in process["partitions"]:
                if p["lag"] is not None and p["lag"] >= 0:
                    lag[(p["consumer_group"], p["topic"])] = lag.get((p["consumer_group"], p["topic"]), 0) + p["lag"]
        groups: list[dict[str, Any]] = []
        for cg in routing.consumer_groups:
            subs = []
            for sg in cg.subscription_groups:
                routes = [self._route_row(reader, r, lag) for r in sg.routes]
                subs.append({"group": sg, "routes": routes, "kafka": masked(sg.kafka_config(config.kafka))})
            groups.append({"name": cg.name, "subscription_groups": subs})
        missing = sum(1 for cg in groups for sg in cg["subscription_groups"] for r in sg["routes"] if r["partitions"] is None)
        return self.render(request, "routing.html", title="Karafka routing", groups=groups, missing=missing)

    @staticmethod
    def _route_row(reader: AdminReader, route: Route, lag: dict[tuple[str, str], int]) -> dict[str, Any]:
        """A route's partitions and lag; a pattern's over the topics it matches now."""
        topics = sorted(t for t in reader.topics.topic_names() if route.matches(t)) if route.is_pattern else [route.topic]
        partitions = sum(len(reader.topics.partitions(topic)) for topic in topics)
        lags = [lag[route.consumer_group, topic] for topic in topics if (route.consumer_group, topic) in lag]
        return {"route": route, "partitions": partitions or None, "lag": sum(lags) if lags else None,
                "matched": topics if route.is_pattern else None}

    def jobs_view(self, request: HttpRequest) -> TemplateResponse:
        """Batches running now (longest first) and the jobs each process has waiting for a worker."""
        processes = AdminReader.shared().processes()
        running = sorted(({**p, "process": proc["id"]} for proc in processes for p in proc["partitions"]
                          if p.get("running_s") is not None), key=lambda r: -r["running_s"])
        return self.render(request, "jobs.html", title="Karafka jobs", running=running, processes=processes)

    def charts_view(self, request: HttpRequest) -> TemplateResponse:
        """Throughput, lag and RSS per process and per topic over ``?range=1h|24h|7d``."""
        chosen = request.GET.get("range", "1h")
        if chosen not in RANGES:
            raise BadRequest(f"range is one of {', '.join(RANGES)}.")
        reader = AdminReader.shared()
        points = reader.chart_points(RANGES[chosen])
        times = [at for at, _ in points]
        time_format = "%m-%d %H:%M" if RANGES[chosen] > timedelta(days=1) else "%H:%M"
        drawn = [line_chart(title, unit, times, series, time_format) for title, unit, series in charts(points)]
        return self.render(request, "charts.html", title="Karafka charts", ranges=list(RANGES), chosen=chosen,
                           charts=drawn, unreadable=reader.reports.unreadable)

    def consumers_view(self, request: HttpRequest) -> TemplateResponse:
        rows = [{**p, "process": proc["id"]} for proc in AdminReader.shared().processes() for p in proc["partitions"]]
        rows.sort(key=lambda r: (r["consumer_group"], r["topic"], r["partition"]))
        return self.render(request, "consumers.html", title="Karafka consumers and lag", rows=rows)

    def errors_view(self, request: HttpRequest) -> TemplateResponse:
        """The latest errors grouped by class and consumer (with counts and the last time), and
        the errors themselves, filtered by ``error_class``, ``consumer`` or ``type``."""
        records, unreadable = AdminReader.shared().errors()
        groups: dict[tuple[str, str], dict] = {}
        for record in records:  # newest first: a group's first record is its latest
            key = (record.get("error_class") or "", record.get("consumer") or "")
            group = groups.setdefault(key, {"error_class": key[0], "consumer": key[1], "count": 0, "last": record["at"]})
            group["count"] += 1
        chosen = {name: request.GET[name] for name in ERROR_FILTERS if request.GET.get(name)}
        shown = [r for r in records if all((r.get(name) or "") == value for name, value in chosen.items())]
        page = Paginator(shown, PER_PAGE).get_page(request.GET.get("page"))
        return self.render(request, "errors.html", title="Karafka errors", page=page, unreadable=unreadable,
                           groups=sorted(groups.values(), key=lambda g: -g["count"]), chosen=chosen,
                           filter_query=urlencode(chosen))

    def command_view(self, request: HttpRequest) -> HttpResponse:
        if not self.can_command(request):
            return HttpResponseForbidden("You may not send commands to karafka processes.")
        command = request.POST.get("command")
        if command not in COMMANDS:
            return HttpResponseForbidden("Unknown command.")
        payload: dict[str, Any] = {"command": command, "process": request.POST.get("process", "*")}
        if command in CONFIRMED_COMMANDS and request.POST.get("confirmed") != "yes":
            return self.render(request, "confirm_command.html", title=f"{command.capitalize()} {payload['process']}?",
                               command=command, process_id=payload["process"],
                               next=next_url(request, reverse("admin:karafka_processes")))
        if command in ("pause", "resume"):
            partition = request.POST.get("partition", "")
            if not decimal(partition) or not request.POST.get("topic"):
                return HttpResponseBadRequest("pause and resume need a topic and a partition number.")
            payload.update(topic=request.POST["topic"], partition=int(partition))
        AdminReader.shared().send(payload)
        self.record_in_admin_log(request, payload["process"], f"Sent command {payload}")
        messages.success(request, f"Sent {command} to {payload['process']}.")
        return HttpResponseRedirect(next_url(request, reverse("admin:karafka_processes")))
