"""Store-level search (spec §6.2) and the other sources of the recall engines, as SQL.

Candidates are the subject's active, non-deleted memories. A memory matches lexically when
the whole trimmed query, or one of its tokens (`tokenize_query`), occurs in its text
case-insensitively; `%`, `_` and `\\` are literal (§15 Q21). Vector path: score = cosine
similarity × 100 (0 without embedding), effective = 0.60·score + 0.25·importance +
15·confidence + 20 (whole query) or 16 (a token); lexical matches, or score ≥ min_score;
by effective, then score. Non-vector path: lexical matches, score 0, by importance, recency.

Fast at 100k memories per subject: rather than scoring every row of the subject exactly
(an exact scan detoasts and compares every 6 KB vector: ~0.5 s at 100k), the vector path
scores exactly only the union of
* the `ann_k(limit)` nearest memories from the HNSW index (pgvector iterative scan, so the
  project/subject filter still yields k rows; the planner scans a small subject exactly,
  so there every memory is scored: tests/integration/test_search_exact.py);
* the `lexical_m(limit)` lexical matches with the best query-independent score part
  (0.25·importance + 15·confidence), found through the trigram index (tokens of 3+
  characters; shorter ones scan the subject's rows, without reading vectors).
Trade-off: every returned score is exact, but a memory can be missed when it is outside
both sets yet its effective score would have ranked it in the top `limit`: a memory far
from the query whose importance and confidence outweigh the similarity gap, one of more
than m lexical matches with a low static part and a high similarity, or one the HNSW
graph did not reach (its recall is approximate). `bench/search_bench.py` reports the
agreement of the top 25 with the exact scan (~96% on its clustered corpus at 100k).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from kernel.timefmt import iso_ms
from queries.recall import Hit, RecallSources, tokenize_query

HIT_COLUMNS = "id, text, kind, importance, is_temporal, created_at"
CANDIDATE = "project_id = $1 AND subject_id = $2 AND status = 'active' AND NOT is_deleted"
LEXICAL = "text ILIKE ANY($5::text[])"
BONUS = "CASE WHEN text ILIKE $4 THEN 20 WHEN text ILIKE ANY($5::text[]) THEN 16 ELSE 0 END"
STATIC = "0.25 * importance::float8 + 15 * confidence"

VECTOR_SQL = f"""
WITH ann AS (
  SELECT id FROM memories WHERE {CANDIDATE} AND importance >= 0 AND embedding IS NOT NULL
  ORDER BY embedding <=> $3::vector LIMIT $6
), lexical AS (
  SELECT id FROM memories WHERE {CANDIDATE} AND {LEXICAL}
  ORDER BY {STATIC} DESC, created_at DESC LIMIT $7
), scored AS (
  SELECT {HIT_COLUMNS}, {STATIC} AS static, {BONUS} AS bonus,
    coalesce(nullif((1 - (embedding <=> $3::vector)) * 100, 'NaN'), 0) AS score,
    embedding IS NOT NULL AS vec
  FROM memories
  WHERE project_id = $1 AND id = ANY(ARRAY(SELECT id FROM ann UNION SELECT id FROM lexical))
)
SELECT {HIT_COLUMNS}, score, 0.60 * score + static + bonus AS effective_score
FROM scored WHERE bonus > 0 OR (vec AND score >= $8)
ORDER BY effective_score DESC, score DESC, created_at DESC, id LIMIT $9
"""
"""$1 project, $2 subject, $3 vector, $4 whole-query pattern, $5 token patterns,
$6 ANN k, $7 lexical m, $8 min_score, $9 limit."""

LEXICAL_SQL = f"""
SELECT {HIT_COLUMNS}, 0::float8 AS score, {STATIC} AS effective_score
FROM memories WHERE {CANDIDATE} AND text ILIKE ANY($4::text[])
ORDER BY importance DESC, created_at DESC, id LIMIT $3
"""
"""$1 project, $2 subject, $3 limit, $4 lexical patterns."""

PROFILE_SQL = f"""
SELECT {HIT_COLUMNS}, 0::float8 AS score, 0::float8 AS effective_score
FROM memories WHERE {CANDIDATE} ORDER BY created_at DESC, id LIMIT $3
"""

TRUTH_SOURCES_SQL = f"""
WITH sources AS (
  SELECT c.source_memory_id AS id, max(s.updated_at) AS updated_at
  FROM slot_state s JOIN claims c
    ON c.project_id = s.project_id AND c.claim_id = s.active_claim_id
  WHERE s.project_id = $1 AND s.subject_id = $2 AND s.status = 'active'
    AND c.status = 'active' AND c.predicate = ANY($3::text[])
    AND c.source_memory_id IS NOT NULL
  GROUP BY c.source_memory_id
)
SELECT {HIT_COLUMNS}, 0::float8 AS score, 0::float8 AS effective_score
FROM sources JOIN memories m USING (id)
WHERE m.project_id = $1 AND m.status = 'active' AND NOT m.is_deleted
ORDER BY sources.updated_at DESC, id
"""
"""§6.4 step 5: current-truth claims with a matching predicate → their source memories."""

PLANNER_SQL = (
    "SELECT set_config('plan_cache_mode', 'force_custom_plan', true), "
    "set_config('hnsw.ef_search', $1, true), "
    "set_config('hnsw.iterative_scan', 'relaxed_order', true)"
)
"""Per search transaction: plan with the actual patterns (a generic plan cannot tell a rare
token from a common one); let the HNSW scan return k rows even after filtering."""


def clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def ann_k(limit: int) -> int:
    return min(max(limit * 8, 200), 1000)


def lexical_m(limit: int) -> int:
    return min(max(limit * 8, 200), 1000)


def like_pattern(text: str) -> str:
    """`%text%` with the LIKE wildcards and the escape character taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def lexical_patterns(q: str) -> list[str]:
    """The token patterns; the whole query only when it has no token. A text containing
    the whole query contains each of its tokens, so the whole query adds no match."""
    return [like_pattern(token) for token in tokenize_query(q)] or [like_pattern(q)]


def vector_args(
    project: str, subject: str, q: str, vector: list[float], limit: int, min_score: float
) -> list[Any]:
    return [project, subject, vector, like_pattern(q), lexical_patterns(q), ann_k(limit),
            lexical_m(limit), min_score, limit]


def to_hit(row: asyncpg.Record) -> Hit:
    return Hit(row["id"], row["text"], row["kind"], row["importance"], row["is_temporal"],
               iso_ms(row["created_at"]) or "", float(row["score"]), float(row["effective_score"]))


async def search_memories(
    pool: asyncpg.Pool, project: str, subject: str, q: str, vector: list[float],
    limit: int = 25, min_score: float = 30.0,
) -> list[Hit]:
    q, limit, min_score = q.strip(), int(clamp(limit, 1, 200)), clamp(min_score, 0, 100)
    if vector:
        sql, args = VECTOR_SQL, vector_args(project, subject, q, vector, limit, min_score)
    else:
        sql, args = LEXICAL_SQL, [project, subject, limit, lexical_patterns(q)]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(PLANNER_SQL, str(ann_k(limit)))
        rows = await conn.fetch(sql, *args)
    return [to_hit(row) for row in rows]


async def list_profile(pool: asyncpg.Pool, project: str, subject: str, limit: int) -> list[Hit]:
    rows = await pool.fetch(PROFILE_SQL, project, subject, limit)
    return [to_hit(row) for row in rows]


async def truth_sources(
    pool: asyncpg.Pool, project: str, subject: str, predicates: list[str]
) -> list[Hit]:
    rows = await pool.fetch(TRUTH_SOURCES_SQL, project, subject, predicates)
    return [to_hit(row) for row in rows]


def store_sources(pool: asyncpg.Pool, project: str, subject: str) -> RecallSources:
    """The recall engines' view of one subject of one project."""

    async def search(q: str, vector: list[float], limit: int, min_score: float) -> list[Hit]:
        return await search_memories(pool, project, subject, q, vector, limit, min_score)

    async def profile(limit: int) -> list[Hit]:
        return await list_profile(pool, project, subject, limit)

    async def sources(predicates: list[str]) -> list[Hit]:
        return await truth_sources(pool, project, subject, predicates)

    return RecallSources(search, profile, sources)
