"""Karafka's Web UI inside the Django admin: routing, processes, lag, errors, topics, consumer
groups, dead letters, commands.

Pages read the report, error and data topics (never a database table). Every page needs
``karafka_django.view_dashboard``; payloads, keys, headers and tracebacks also need
``karafka_django.view_messages`` (a page made of them answers 403 without it). Everything that changes
something (commands to processes, a group's seek, republishing dead letters, topic changes) needs the
``karafka_django.send_commands`` permission, is a POST under the admin's CSRF protection, and
is written to the admin log.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import wraps
from urllib.parse import urlencode

from confluent_kafka import KafkaException
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import (Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden,
                         HttpResponseRedirect)
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .charts import RANGES, charts, line_chart
from .cluster.metadata import Cluster, TopicInfo
from .conf import get_config
from .dead_letters import DeadLetters
from .explorer import SearchForm, search
from .groups import GroupInUse, Groups
from .loading import load
from .models import Dashboard, TaskRecord
from .positions import PositionReader, parse_position
from .web import KafkaReader, Read, masked

COMMANDS = ("pause", "resume", "quiet", "stop")
CONFIRMED_COMMANDS = ("quiet", "stop")  # they end a process's work: asked once more
MAX_OFFSET = 2**63 - 1  # Kafka's offsets are signed 64-bit
#: Kafka's topic names: letters, digits, '.', '_' and '-', at most 249 characters.
TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
CONFIG_KEY = re.compile(r"[a-z0-9.]{1,100}")
ERROR_FILTERS = ("error_class", "consumer", "type")
VIEW_DASHBOARD = "karafka_django.view_dashboard"
VIEW_MESSAGES = "karafka_django.view_messages"
PER_PAGE = 25


class BadRequest(Exception):
    """A query parameter a page cannot use: answered 400 with the message."""


def int_param(request: HttpRequest, name: str, default: int | None = None, low: int = 0,
              high: int = MAX_OFFSET) -> int | None:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"'{name}' must be an integer, not {raw!r}.") from None
    if not low <= value <= high:
        raise BadRequest(f"'{name}' must be between {low} and {high}, not {value}.")
    return value


def decimal(text: str) -> bool:
    """Digits an ``int()`` reads (``str.isdigit`` also accepts '²', which ``int()`` refuses)."""
    return text.isdecimal() and len(text) < 20


def positive(text: str) -> int:
    if not decimal(text) or int(text) < 1:
        raise BadRequest(f"a positive whole number is needed, not {text!r}.")
    return int(text)


def replication(text: str) -> int:
    """A replication factor, or -1 (the brokers' default) when left empty."""
    return -1 if text == "" else positive(text)


def topic_name(topic: str) -> str:
    """``topic`` when Kafka could have such a topic; otherwise the page is not found."""
    if not TOPIC_NAME.fullmatch(topic):
        raise Http404("not a Kafka topic name")
    return topic


def answers_bad_requests(view):
    """400 for a parameter the page cannot use; 503 when the cluster does not answer (never a 500)."""
    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except BadRequest as exc:
            return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
        except (KafkaException, TimeoutError) as exc:
            return HttpResponse(f"The Kafka cluster did not answer: {exc.args[0] if exc.args else 'timed out'}",
                                status=503, content_type="text/plain; charset=utf-8")
    return wrapped


def next_url(request: HttpRequest, default: str) -> str:
    """The form's ``next``, only when it points into this site."""
    wanted = request.POST.get("next")
    if wanted and url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return wanted
    return default


@admin.register(Dashboard)
class KarafkaAdmin(admin.ModelAdmin):
    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_active and request.user.has_perm(VIEW_DASHBOARD)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_urls(self) -> list:
        def view(function, *needs: str):
            """``function`` for a staff user (the admin's login) holding ``view_dashboard`` and ``needs``."""
            @wraps(function)
            def permitted(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
                if not self.has_view_permission(request) or not request.user.has_perms(needs):
                    raise PermissionDenied
                return function(request, *args, **kwargs)
            return self.admin_site.admin_view(answers_bad_requests(permitted))

        return [
            path("", view(self.processes_view), name="karafka_processes"),
            # The admin index links a model to its changelist: here, the processes page.
            path("", view(self.processes_view), name="karafka_django_dashboard_changelist"),
            path("process/<str:process_id>/", view(self.process_view), name="karafka_process"),
            path("routing/", view(self.routing_view), name="karafka_routing"),
            path("cluster/", view(self.cluster_view), name="karafka_cluster"),
            path("topics/<str:topic>/", view(self.topic_view), name="karafka_topic"),
            path("consumers/", view(self.consumers_view), name="karafka_consumers"),
            path("jobs/", view(self.jobs_view), name="karafka_jobs"),
            path("charts/", view(self.charts_view), name="karafka_charts"),
            path("errors/", view(self.errors_view), name="karafka_errors"),
            path("explorer/<str:topic>/<int:partition>/", view(self.explorer_view, VIEW_MESSAGES), name="karafka_explorer"),
            path("explorer/<str:topic>/<int:partition>/<int:offset>/", view(self.message_view, VIEW_MESSAGES), name="karafka_message"),
            path("explorer/<str:topic>/<int:partition>/<int:offset>/raw/", view(self.message_raw_view, VIEW_MESSAGES),
                 name="karafka_message_raw"),
            path("search/<str:topic>/", view(self.search_view, VIEW_MESSAGES), name="karafka_search"),
            path("groups/<path:group>/", view(self.group_view), name="karafka_group"),
            path("dead-letters/", view(self.dead_letter_topics_view), name="karafka_dead_letter_topics"),
            path("dead-letters/<str:topic>/", view(self.dead_letters_view, VIEW_MESSAGES), name="karafka_dead_letters"),
            path("commands/", view(require_POST(self.command_view)), name="karafka_command"),
        ]

    # -- helpers ---------------------------------------------------------------------------------

    def render(self, request: HttpRequest, template: str, **context: object) -> TemplateResponse:
        context.update(self.admin_site.each_context(request), title=context.get("title", "Karafka"),
                       opts=self.model._meta, can_command=self.can_command(request),
                       can_read_messages=request.user.has_perm(VIEW_MESSAGES))
        return TemplateResponse(request, f"admin/karafka_django/{template}", context)

    @staticmethod
    def can_command(request: HttpRequest) -> bool:
        return request.user.has_perm("karafka_django.send_commands")

    @staticmethod
    def record_in_admin_log(request: HttpRequest, object_id: str, message: str) -> None:
        LogEntry.objects.create(
            user_id=request.user.pk, content_type_id=ContentType.objects.get_for_model(Dashboard).pk,
            object_id=object_id, object_repr=f"karafka {object_id}"[:200], action_flag=CHANGE, change_message=message,
        )

    @staticmethod
    def partition_of(reader: KafkaReader, topic: str, partition: int) -> list[int]:
        """The topic's partitions, when ``partition`` is one of them."""
        partitions = reader.partitions(topic_name(topic))
        if not partitions:
            raise Http404(f"topic '{topic}' does not exist")
        if partition not in partitions:
            raise BadRequest(f"topic '{topic}' has partitions 0-{len(partitions) - 1}, not {partition}.")
        return partitions

    # -- pages -----------------------------------------------------------------------------------

    def processes_view(self, request: HttpRequest) -> TemplateResponse:
        reader = KafkaReader.shared()
        return self.render(request, "processes.html", title="Karafka processes", processes=reader.processes(),
                           unreadable=reader.reports.unreadable)

    def process_view(self, request: HttpRequest, process_id: str) -> TemplateResponse:
        found = [p for p in KafkaReader.shared().processes() if p["id"] == process_id]
        if not found:
            raise Http404("no live process with that id")
        process = found[0]
        flags = process["flags"]["partitions"]
        partitions = [{**p, "flags": flags.get((p["consumer_group"], p["topic"], p["partition"]), [])}
                      for p in process["partitions"]]
        return self.render(request, "process.html", title=f"Process {process_id}", process=process, partitions=partitions)

    def routing_view(self, request: HttpRequest) -> TemplateResponse:
        config, routing = load()
        reader = KafkaReader.shared()
        lag: dict[tuple[str, str], int] = {}
        for process in reader.processes():
            for p in process["partitions"]:
                if p["lag"] is not None and p["lag"] >= 0:
                    lag[(p["consumer_group"], p["topic"])] = lag.get((p["consumer_group"], p["topic"]), 0) + p["lag"]
        groups = []
        for cg in routing.consumer_groups:
            subs = []
            for sg in cg.subscription_groups:
                routes = [{"route": r, "partitions": len(reader.partitions(r.topic)) or None,
                           "lag": lag.get((cg.name, r.topic))} for r in sg.routes]
                subs.append({"group": sg, "routes": routes, "kafka": masked(sg.kafka_config(config.kafka))})
            groups.append({"name": cg.name, "subscription_groups": subs})
        missing = sum(1 for cg in groups for sg in cg["subscription_groups"] for r in sg["routes"] if r["partitions"] is None)
        return self.render(request, "routing.html", title="Karafka routing", groups=groups, missing=missing)

    def cluster_view(self, request: HttpRequest) -> HttpResponse:
        cluster = Cluster(get_config().producer_kafka, timeout=5)
        if request.method == "POST":
            name = request.POST.get("topic", "")
            if not TOPIC_NAME.fullmatch(name):
                raise BadRequest("a topic name is letters, digits, '.', '_' and '-', at most 249 of them.")
            return self._change_topic(request, name, f"Created topic {name}", lambda: cluster.create_topic(
                name, positive(request.POST.get("partitions", "")), replication(request.POST.get("replication", ""))))
        cluster_id, brokers = cluster.brokers()
        topics = cluster.topics()
        try:  # ListGroups asks every broker: one that was just lost does not answer until it is fenced
            groups, groups_error = cluster.groups(), None
        except (KafkaException, TimeoutError) as exc:
            groups, groups_error = [], str(exc) or "timed out"
        return self.render(request, "cluster.html", title="Kafka cluster", cluster_id=cluster_id, brokers=brokers,
                           topics=topics, groups=groups, groups_error=groups_error,
                           flagged=sum(1 for t in topics if t.under_replicated or t.under_min_isr or t.offline))

    def topic_view(self, request: HttpRequest, topic: str) -> HttpResponse:
        cluster = Cluster(get_config().producer_kafka)
        info = cluster.topic(topic_name(topic))
        if info is None:
            raise Http404(f"topic '{topic}' does not exist")
        if request.method == "POST":
            return self._topic_change(request, cluster, info)
        return self.render(request, "topic.html", title=f"Topic {topic}", topic=info, configs=cluster.configs(topic))

    def _topic_change(self, request: HttpRequest, cluster: Cluster, info: TopicInfo) -> HttpResponse:
        action, name = request.POST.get("action"), info.name
        if action == "add_partitions":
            total = positive(request.POST.get("partitions", ""))
            return self._change_topic(request, name, f"Partitions of {name}: {len(info.partitions)} -> {total}",
                                      lambda: cluster.add_partitions(name, total))
        if action == "set_config":
            key, value = request.POST.get("key", "").strip(), request.POST.get("value", "").strip()
            if not CONFIG_KEY.fullmatch(key):
                raise BadRequest("a config name is lowercase letters, digits and dots, e.g. retention.ms.")
            return self._change_topic(request, name, f"Config of {name}: {key}={value}",
                                      lambda: cluster.set_config(name, key, value))
        if action == "delete":
            if request.POST.get("confirm") != name:
                messages.error(request, f"Type the topic's name ({name}) to delete it.")
                return HttpResponseRedirect(reverse("admin:karafka_topic", args=[name]))
            return self._change_topic(request, name, f"Deleted topic {name}", lambda: cluster.delete_topic(name),
                                      done=reverse("admin:karafka_cluster"))
        raise BadRequest("unknown action.")

    def _change_topic(self, request: HttpRequest, name: str, summary: str, change, done: str | None = None) -> HttpResponse:
        """Run ``change`` for a user with send_commands; the broker's refusal is shown, a success logged."""
        if not self.can_command(request):
            return HttpResponseForbidden("You may not change topics.")
        try:
            change()
        except KafkaException as exc:
            messages.error(request, f"Kafka refused: {exc.args[0].str() if hasattr(exc.args[0], 'str') else exc}")
            return HttpResponseRedirect(reverse("admin:karafka_cluster"))
        self.record_in_admin_log(request, name, summary)
        messages.success(request, summary)
        return HttpResponseRedirect(done or reverse("admin:karafka_topic", args=[name]))

    def jobs_view(self, request: HttpRequest) -> TemplateResponse:
        """Batches running now (longest first) and the jobs each process has waiting for a worker."""
        processes = KafkaReader.shared().processes()
        running = sorted(({**p, "process": proc["id"]} for proc in processes for p in proc["partitions"]
                          if p.get("running_s") is not None), key=lambda r: -r["running_s"])
        return self.render(request, "jobs.html", title="Karafka jobs", running=running, processes=processes)

    def charts_view(self, request: HttpRequest) -> TemplateResponse:
        """Throughput, lag and RSS per process and per topic over ``?range=1h|24h|7d``."""
        chosen = request.GET.get("range", "1h")
        if chosen not in RANGES:
            raise BadRequest(f"range is one of {', '.join(RANGES)}.")
        reader = KafkaReader.shared()
        points = reader.chart_points(RANGES[chosen])
        times = [at for at, _ in points]
        time_format = "%m-%d %H:%M" if RANGES[chosen] > timedelta(days=1) else "%H:%M"
        drawn = [line_chart(title, unit, times, series, time_format) for title, unit, series in charts(points)]
        return self.render(request, "charts.html", title="Karafka charts", ranges=list(RANGES), chosen=chosen,
                           charts=drawn, unreadable=reader.reports.unreadable)

    def consumers_view(self, request: HttpRequest) -> TemplateResponse:
        rows = [{**p, "process": proc["id"]} for proc in KafkaReader.shared().processes() for p in proc["partitions"]]
        rows.sort(key=lambda r: (r["consumer_group"], r["topic"], r["partition"]))
        return self.render(request, "consumers.html", title="Karafka consumers and lag", rows=rows)

    def errors_view(self, request: HttpRequest) -> TemplateResponse:
        """The latest errors grouped by class and consumer (with counts and the last time), and
        the errors themselves, filtered by ``error_class``, ``consumer`` or ``type``."""
        records, unreadable = KafkaReader.shared().errors()
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

    def explorer_view(self, request: HttpRequest, topic: str, partition: int) -> TemplateResponse:
        """A page of a partition, newest first: the latest, ``before`` an offset, from an ``offset``
        (it heads the page) or from a ``time`` (the first message at or after it)."""
        reader = KafkaReader.shared()
        partitions = self.partition_of(reader, topic, partition)
        before = int_param(request, "before", low=1)
        offset = int_param(request, "offset")
        if offset is not None:
            before = offset + 1
        elif request.GET.get("time"):
            try:
                moment = datetime.fromisoformat(request.GET["time"])
                with PositionReader(get_config().tool_kafka) as positions:
                    before = positions.offset(topic, partition, moment) + PER_PAGE
            except (ValueError, OverflowError) as exc:
                raise BadRequest(f"'time' must be an ISO 8601 time from 1970 on: {exc}") from None
        if before is None:
            found = reader.read(topic, {partition: (None, None)}, count_back=PER_PAGE)
        else:
            found = reader.read(topic, {partition: (max(0, before - PER_PAGE), before)})
        found = sorted(found, key=lambda m: m.offset, reverse=True)[:PER_PAGE]
        older = found[-1].offset if found and found[-1].offset > 0 else None
        newer = found[0].offset + 1 + PER_PAGE if found and before is not None else None
        return self.render(request, "explorer.html", title=f"{topic} / {partition}", topic=topic, partition=partition,
                           partitions=partitions, messages_=found, older=older, newer=newer, form=SearchForm())

    def message_raw_view(self, request: HttpRequest, topic: str, partition: int, offset: int) -> HttpResponse:
        """The whole value, as a download (pages show at most EXPLORER_PREVIEW_BYTES of it)."""
        message = self._message(topic, partition, offset)
        response = HttpResponse(message.value or b"", content_type="application/octet-stream")
        response["Content-Disposition"] = f'attachment; filename="{topic}-{partition}-{offset}.bin"'
        return response

    def message_view(self, request: HttpRequest, topic: str, partition: int, offset: int) -> TemplateResponse:
        message = self._message(topic, partition, offset)
        return self.render(request, "message.html", title=f"{topic} / {partition} @ {offset}", message=message)

    def _message(self, topic: str, partition: int, offset: int) -> Read:
        if offset > MAX_OFFSET:
            raise BadRequest(f"an offset is at most {MAX_OFFSET}, not {offset}.")
        reader = KafkaReader.shared()
        self.partition_of(reader, topic, partition)
        found = [m for m in reader.read(topic, {partition: (offset, offset + 1)}) if m.offset == offset]
        if not found:
            raise Http404(f"no message at {topic}/{partition}@{offset}")
        return found[0]

    def search_view(self, request: HttpRequest, topic: str) -> TemplateResponse:
        form = SearchForm(request.GET)
        if not form.is_valid():
            raise BadRequest("; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()))
        try:
            result = search(KafkaReader.shared(), topic_name(topic), form.cleaned_data)
        except ValueError as exc:
            raise Http404(str(exc)) from None
        return self.render(request, "search.html", title=f"Search {topic}", topic=topic, form=form, result=result)

    def group_view(self, request: HttpRequest, group: str) -> HttpResponse:
        groups = Groups(KafkaReader.shared().kafka)
        if request.method == "POST":
            return self._seek_group(request, groups, group)
        state, members = groups.state(group)
        rows = groups.lag(group)
        return self.render(request, "group.html", title=f"Consumer group {group}", group=group, state=state.name.lower(),
                           members=members, rows=rows, topics=sorted({r.topic for r in rows}))

    def _seek_group(self, request: HttpRequest, groups: Groups, group: str) -> HttpResponse:
        if not self.can_command(request):
            return HttpResponseForbidden("You may not change consumer group offsets.")
        topic, target = request.POST.get("topic", ""), request.POST.get("to", "").strip()
        try:
            if not groups.exists(group):
                raise ValueError(f"there is no consumer group '{group}' (a seek would create it)")
            if target in ("earliest", "latest"):
                position = parse_position(target)
            elif decimal(target):
                position = parse_position(int(target))
            else:
                position = parse_position(datetime.fromisoformat(target))
            changes = groups.plan_seek(group, topic, position)
            groups.apply(group, changes)
        except GroupInUse as exc:
            messages.error(request, str(exc))
        except (ValueError, TypeError) as exc:
            messages.error(request, f"Cannot seek: {exc}")
        else:
            summary = ", ".join(map(str, changes))
            self.record_in_admin_log(request, group, f"Seek {group} on {topic} to {target}: {summary}")
            messages.success(request, f"Moved {group} on {topic}: {summary}")
        return HttpResponseRedirect(reverse("admin:karafka_group", args=[group]))

    def dead_letter_topics_view(self, request: HttpRequest) -> TemplateResponse:
        _, routing = load()
        topics = sorted({r.dead_letter_queue.topic for r in routing.routes if r.dead_letter_queue and r.dead_letter_queue.topic})
        return self.render(request, "dead_letter_topics.html", title="Dead letter queues", topics=topics)

    def dead_letters_view(self, request: HttpRequest, topic: str) -> HttpResponse:
        letters = DeadLetters(KafkaReader.shared(), topic_name(topic))
        if request.method == "POST":
            return self._republish(request, letters)
        number = int_param(request, "page", default=1, low=1)
        try:
            shown, total = letters.page(number, PER_PAGE)
        except ValueError as exc:
            raise Http404(str(exc)) from None
        pages = max(1, -(-total // PER_PAGE))
        if number > pages:
            raise BadRequest(f"'page' must be between 1 and {pages}, not {number}.")
        return self.render(request, "dead_letters.html", title=f"Dead letters in {topic}", topic=topic, letters=shown,
                           total=total, page=number, pages=pages)

    def _republish(self, request: HttpRequest, letters: DeadLetters) -> HttpResponse:
        if not self.can_command(request):
            return HttpResponseForbidden("You may not republish dead letters.")
        done = []
        # A row's own button republishes that message; the other button the ones ticked.
        addresses = [request.POST["one"]] if request.POST.get("one") else request.POST.getlist("message")
        for address in addresses:
            partition, _, offset = address.partition(":")
            letter = letters.find(int(partition), int(offset)) if decimal(partition) and decimal(offset) else None
            if letter is None:
                messages.error(request, f"No dead letter at {letters.topic}/{address}.")
                continue
            try:
                letters.republish(letter)
            except Exception as exc:  # the producer's or the message's (no original headers) reason
                messages.error(request, f"{letter.address} not republished: {exc}")
                continue
            done.append(letter.address)
        if done:
            self.record_in_admin_log(request, letters.topic, f"Republished {', '.join(done)}")
            messages.success(request, f"Republished {len(done)} messages: {', '.join(done)}.")
        return HttpResponseRedirect(next_url(request, reverse("admin:karafka_dead_letters", args=[letters.topic])))

    # -- commands --------------------------------------------------------------------------------

    def command_view(self, request: HttpRequest) -> HttpResponse:
        if not self.can_command(request):
            return HttpResponseForbidden("You may not send commands to karafka processes.")
        command = request.POST.get("command")
        if command not in COMMANDS:
            return HttpResponseForbidden("Unknown command.")
        payload = {"command": command, "process": request.POST.get("process", "*")}
        if command in CONFIRMED_COMMANDS and request.POST.get("confirmed") != "yes":
            return self.render(request, "confirm_command.html", title=f"{command.capitalize()} {payload['process']}?",
                               command=command, process_id=payload["process"],
                               next=next_url(request, reverse("admin:karafka_processes")))
        if command in ("pause", "resume"):
            partition = request.POST.get("partition", "")
            if not decimal(partition) or not request.POST.get("topic"):
                return HttpResponseBadRequest("pause and resume need a topic and a partition number.")
            payload.update(topic=request.POST["topic"], partition=int(partition))
        KafkaReader.shared().send(payload)
        self.record_in_admin_log(request, payload["process"], f"Sent command {payload}")
        messages.success(request, f"Sent {command} to {payload['process']}.")
        return HttpResponseRedirect(next_url(request, reverse("admin:karafka_processes")))


@admin.register(TaskRecord)
class TaskRecordAdmin(admin.ModelAdmin):
    list_display = ("id", "task_path", "status", "enqueued_at", "finished_at")
    list_filter = ("status", "backend")
    search_fields = ("id", "task_path")
    readonly_fields = [f.name for f in TaskRecord._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
