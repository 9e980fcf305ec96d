"""A view that produces through the process-wide producer, as any Django view can.

``produce_sync`` answers within PRODUCER_SYNC_TIMEOUT_MS; a ``ProduceError`` is a definite
failure (the message will not show up later), so the client may safely retry: 503.
"""

import json
import uuid

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from karafka_django import producer
from karafka_django.errors import ProduceError


@csrf_exempt
@require_POST
def place_order(request: HttpRequest) -> JsonResponse:
    data = json.loads(request.body or b"{}")
    number = data.get("number") or uuid.uuid4().hex[:12]
    order = {"number": number, "customer": data.get("customer", "anonymous"), "total": data.get("total", "0")}
    try:
        delivery = producer.produce_sync("orders", order, key=number)
    except ProduceError as exc:
        return JsonResponse({"error": str(exc)}, status=503, headers={"Retry-After": "5"})
    return JsonResponse({"number": number, "partition": delivery.partition, "offset": delivery.offset}, status=201)
