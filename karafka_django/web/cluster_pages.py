"""The cluster as the brokers describe it: brokers, topics (and their changes), consumer groups
(and their seeks)."""

from __future__ import annotations

from datetime import datetime

from confluent_kafka import KafkaException
from django.contrib import messages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseRedirect,
)
from django.urls import reverse

from ..cluster.groups import GroupInUse, Groups
from ..cluster.metadata import Cluster, TopicInfo
from ..cluster.positions import parse_position
from ..conf import get_config
from .pages import Pages
from .params import (
    CONFIG_KEY,
    TOPIC_NAME,
    BadRequest,
    decimal,
    positive,
    replication,
    topic_name,
)
from .reports import AdminReader


class ClusterPages(Pages):
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

    def group_view(self, request: HttpRequest, group: str) -> HttpResponse:
        groups = Groups(AdminReader.shared().topics.kafka)
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
