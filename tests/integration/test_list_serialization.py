"""Lists are serialized by Postgres (`queries.memory_rows.memory_json`); the document must be
exactly the one the API builds in Python for a single memory (`memory_api` + `dumps`)."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import orjson
import pytest

from kernel.http import dumps
from queries.memory_rows import MEMORY_COLUMNS, memory_api
from tests.support.system import System

pytestmark = pytest.mark.integration
TEXTS = ["plain", "ünïcödé — 中文 🚀", 'quotes " and \\ backslash', "tab\tnew\nline\u2028sep",
         "control \x01\x1f chars"]


async def python_built(system: System, project: str, deleted_flag: bool) -> list[object]:
    conn = await asyncpg.connect(system.dsn)
    try:
        await conn.set_type_codec("jsonb", encoder=orjson.dumps, decoder=orjson.loads,
                                  schema="pg_catalog", format="text")
        rows = await conn.fetch(
            f"SELECT {MEMORY_COLUMNS}, is_deleted FROM memories WHERE project_id = $1 "
            "ORDER BY created_at DESC, id DESC", project)
    finally:
        await conn.close()
    return [orjson.loads(dumps(memory_api(r, with_deleted_flag=deleted_flag))) for r in rows]


async def test_lists_equal_the_python_serialization(api: httpx.AsyncClient,
                                                    system: System) -> None:
    headers = {"x-project-id": f"p-{uuid.uuid4().hex[:8]}"}
    for n, text in enumerate(TEXTS):
        created = await api.post("/api/v1/memories", headers=headers, json={
            "subject_id": "u1", "text": text, "importance": n * 20, "confidence": 0.1 * n,
            "tags": ["a", "é", f"t{n}"], "metadata": {"n": n, "nested": {"x": [1.5, None]},
                                                        "s": text}, "is_temporal": n % 2 == 0})
        assert created.status_code == 201, created.text
    listed = await api.get("/api/v1/memories?subject_id=u1", headers=headers)
    assert listed.headers["content-type"].startswith("application/json")
    assert listed.json() == {"data": await python_built(system, headers["x-project-id"], False),
                             "count": len(TEXTS)}
    with_flag = await api.get("/api/v1/memories?subject_id=u1&include_deleted=true",
                              headers=headers)
    assert with_flag.json()["data"] == await python_built(system, headers["x-project-id"], True)
    single = await api.get(f"/api/v1/memories/{listed.json()['data'][0]['id']}", headers=headers)
    assert single.json()["data"] == listed.json()["data"][0]
    empty = await api.get("/api/v1/memories?subject_id=nobody", headers=headers)
    assert empty.json() == {"data": [], "count": 0}
