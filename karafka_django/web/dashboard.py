"""Karafka's Web UI inside the Django admin: routing, processes, charts, lag, errors, the cluster,
topics, consumer groups, the explorer, dead letters, commands.

Pages read the report, error and data topics (never a database table). Every page needs
``karafka_django.view_dashboard``; payloads, keys, headers and tracebacks also need
``karafka_django.view_messages`` (a page made of them answers 403 without it). Everything that changes
something (commands to processes, a group's seek, republishing dead letters, topic changes) needs the
``karafka_django.send_commands`` permission, is a POST under the admin's CSRF protection, and
is written to the admin log.
"""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_POST

from .cluster_pages import ClusterPages
from .message_pages import MessagePages
from .pages import VIEW_MESSAGES
from .params import answers_bad_requests
from .process_pages import ProcessPages


class KarafkaAdmin(ProcessPages, ClusterPages, MessagePages):
    """The admin of the ``Dashboard`` model (no table): the pages' URLs and who may open them."""

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
