"""Postgres instrumentation: a query logger registered on every pooled connection (asyncpg
times each statement and calls it on the loop) and pool occupancy gauges, sampled on scrape
(API) or every few seconds (worker)."""

from __future__ import annotations

from typing import Any

from kernel.metrics import (
    DB_POOL_IN_USE,
    DB_POOL_MAX,
    DB_POOL_SIZE,
    DB_POOL_WAITING,
    DB_QUERY_ERRORS,
    DB_QUERY_SECONDS,
)

VERBS = frozenset({"select", "insert", "update", "delete", "with", "begin", "commit",
                   "rollback", "savepoint", "release", "set", "listen", "unlisten", "analyze",
                   "copy", "lock"})


def sql_verb(query: str) -> str:
    head = query.lstrip()[:12].split(None, 1)
    verb = head[0].lower().rstrip(";") if head else ""
    return verb if verb in VERBS else "other"


def observe_query(record: Any) -> None:
    """asyncpg query logger (`Connection.add_query_logger`): one LoggedQuery per statement."""
    verb = sql_verb(record.query)
    DB_QUERY_SECONDS.labels(verb).observe(record.elapsed)
    if record.exception is not None:
        DB_QUERY_ERRORS.labels(verb, type(record.exception).__name__).inc()


def waiting_acquirers(pool: Any) -> int:
    """Tasks blocked in `pool.acquire()`: asyncpg keeps them as getters of its holder queue
    (no public API; 0 if the internals change)."""
    getters = getattr(getattr(pool, "_queue", None), "_getters", None) or ()
    return sum(1 for waiter in getters if not waiter.done())


def sample_pool(name: str, pool: Any) -> None:
    size = pool.get_size()
    DB_POOL_SIZE.labels(name).set(size)
    DB_POOL_IN_USE.labels(name).set(size - pool.get_idle_size())
    DB_POOL_MAX.labels(name).set(pool.get_max_size())
    DB_POOL_WAITING.labels(name).set(waiting_acquirers(pool))
