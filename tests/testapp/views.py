"""A view that produces, as a project's would (for the tracing test)."""

import json

from django.http import HttpRequest, JsonResponse

from karafka_django import producer


def produce(request: HttpRequest, topic: str) -> JsonResponse:
    delivery = producer.produce_sync(topic, json.loads(request.body or b"{}"), key=request.GET.get("key"))
    return JsonResponse({"partition": delivery.partition, "offset": delivery.offset}, status=201)
