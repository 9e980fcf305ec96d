"""The pages that show messages (they need ``view_messages``): the explorer, a message, search,
dead letters and their republishing."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import reverse

from ..cluster.dead_letters import DeadLetters
from ..cluster.positions import PositionReader
from ..cluster.reader import Read
from ..conf import get_config
from ..loading import load
from .explorer import SearchForm, search
from .pages import PER_PAGE, Pages
from .params import MAX_OFFSET, BadRequest, decimal, int_param, next_url, topic_name
from .reports import AdminReader


class MessagePages(Pages):
    def explorer_view(self, request: HttpRequest, topic: str, partition: int) -> TemplateResponse:
        """A page of a partition, newest first: the latest, ``before`` an offset, from an ``offset``
        (it heads the page) or from a ``time`` (the first message at or after it)."""
        reader = AdminReader.shared().topics
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
        reader = AdminReader.shared().topics
        self.partition_of(reader, topic, partition)
        found = [m for m in reader.read(topic, {partition: (offset, offset + 1)}) if m.offset == offset]
        if not found:
            raise Http404(f"no message at {topic}/{partition}@{offset}")
        return found[0]

    def search_view(self, request: HttpRequest, topic: str) -> TemplateResponse:
        form = SearchForm(request.GET)
        if not form.is_valid():
            raise BadRequest("; ".join(f"{field}: {' '.join(str(e) for e in errors)}" for field, errors in form.errors.items()))
        try:
            result = search(AdminReader.shared().topics, topic_name(topic), form.cleaned_data)
        except ValueError as exc:
            raise Http404(str(exc)) from None
        return self.render(request, "search.html", title=f"Search {topic}", topic=topic, form=form, result=result)

    def dead_letter_topics_view(self, request: HttpRequest) -> TemplateResponse:
        _, routing = load()
        topics = sorted({r.dead_letter_queue.topic for r in routing.routes if r.dead_letter_queue and r.dead_letter_queue.topic})
        return self.render(request, "dead_letter_topics.html", title="Dead letter queues", topics=topics)

    def dead_letters_view(self, request: HttpRequest, topic: str) -> HttpResponse:
        letters = DeadLetters(get_config(), AdminReader.shared().topics, topic_name(topic))
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
