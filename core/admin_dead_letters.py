"""GET /api/v1/admin/dead-letters (scope `admin`): how many records the dead-letter topic holds,
per partition and in total (its end offsets: the topic is never compacted and keeps records
long). The worker counts what it dead-letters in its own metrics; an API process cannot see
that counter, so the console's health view asks here. `core dlq list` shows the records."""

from __future__ import annotations

from starlette.responses import Response

from kernel.http import json_response
from kernel.kafka import end_offsets
from kernel.routing import Call, RouteSpec
from kernel.settings import Settings

PATH = "/api/v1/admin/dead-letters"


def dead_letter_routes(settings: Settings) -> list[RouteSpec]:
    async def count(_call: Call) -> Response:
        ends = await end_offsets(settings, settings.dlq_topic)
        return json_response(200, {"topic": settings.dlq_topic, "count": sum(ends.values()),
                                   "partitions": {str(p): o for p, o in sorted(ends.items())}})

    return [RouteSpec("GET", PATH, count, "admin")]
