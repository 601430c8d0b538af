"""One line a person can act on, instead of a traceback, when a `core` command cannot reach
or use a dependency: what was tried, what went wrong, what to do. `core.cli.main` catches
every exception of a command and prints `explain(...)`; `CORE_DEBUG=1` keeps the traceback.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Iterator
from types import TracebackType
from urllib.parse import urlsplit

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from pydantic import ValidationError

from core.backup import PgToolFailed
from kernel.kafka import TopicMissing
from kernel.settings import Settings


class CommandError(Exception):
    """Raised by the CLI with the whole one-line message already written."""


def postgres_target(settings: Settings | None) -> str:
    """`user@host:port/database (from DATABASE_URL)`, never the password."""
    if settings is None:
        return "Postgres"
    try:
        parts = urlsplit(settings.resolved_database_url())
    except Exception:  # the URL itself is the problem; say which setting it comes from
        return "Postgres (DATABASE_URL)"
    where = f"{parts.username or ''}@{parts.hostname}:{parts.port or 5432}{parts.path}"
    source = "DATABASE_URL" if settings.database_url else \
        "the embedded Postgres of `core dev`, CORE_PG_PORT"
    return f"Postgres at {where.lstrip('@')} (from {source})"


def kafka_target(settings: Settings | None) -> str:
    if settings is None:
        return "Kafka"
    source = "KAFKA_BOOTSTRAP_SERVERS" if settings.kafka_bootstrap_servers else \
        "the embedded Kafka of `core dev`, CORE_KAFKA_PORT"
    return f"Kafka at {settings.resolved_bootstrap()} (from {source})"


def _fix_postgres(settings: Settings | None) -> str:
    if settings is not None and not settings.database_url:
        return "start `core dev` (or set DATABASE_URL to a running Postgres)"
    return "start Postgres or correct DATABASE_URL"


def _fix_kafka(settings: Settings | None) -> str:
    if settings is not None and not settings.kafka_bootstrap_servers:
        return "start `core dev` (or set KAFKA_BOOTSTRAP_SERVERS to running brokers)"
    return "start the brokers or correct KAFKA_BOOTSTRAP_SERVERS"


def _frames(trace: TracebackType | None) -> Iterator[str]:
    while trace is not None:
        yield str(trace.tb_frame.f_globals.get("__name__", ""))
        trace = trace.tb_next


def _raised_in(exc: BaseException, package: str) -> bool:
    return any(name == package or name.startswith(package + ".")
               for name in _frames(exc.__traceback__))


def _socket_reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listens on that port)"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "host unreachable"
    if type(exc).__name__ == "gaierror":
        return "unknown host name"
    if "Connect call failed" in str(exc) or "Multiple exceptions" in str(exc):
        return "connection refused (nothing listens on that port)"
    return str(exc) or type(exc).__name__


def explain(exc: BaseException, settings: Settings | None) -> str:
    """The one line for `exc` (without the `core <command>:` prefix)."""
    if isinstance(exc, CommandError):
        return str(exc)
    if isinstance(exc, ValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        return f"invalid settings ({problems}): fix the environment variables"
    if isinstance(exc, TopicMissing):
        return (f"{exc} — checked {kafka_target(settings)}; check CORE_TOPIC_PREFIX too")
    if isinstance(exc, KafkaConnectionError | KafkaTimeoutError):
        reason = "timed out" if isinstance(exc, KafkaTimeoutError) else "no broker answered"
        return f"cannot reach {kafka_target(settings)}: {reason}; {_fix_kafka(settings)}"
    if isinstance(exc, KafkaError):
        return f"{kafka_target(settings)} answered with an error: {exc!r}"
    if isinstance(exc, PgToolFailed):
        return f"{exc.tool} could not use {postgres_target(settings)}: {exc.reason}; " \
            f"{_fix_postgres(settings)}"
    if isinstance(exc, asyncpg.InvalidPasswordError
                  | asyncpg.InvalidAuthorizationSpecificationError):
        return (f"{postgres_target(settings)} refused the credentials ({exc}): correct the user "
                "and password in DATABASE_URL")
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return (f"{postgres_target(settings)}: {exc}; create the database (createdb) or "
                "correct DATABASE_URL")
    if isinstance(exc, asyncpg.UndefinedTableError):
        return (f"{postgres_target(settings)}: {exc}; the schema is missing or old: run "
                "`core migrate`")
    if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError):
        return f"{postgres_target(settings)} failed: {exc}"
    if isinstance(exc, OSError | TimeoutError | asyncio.TimeoutError):
        if _raised_in(exc, "asyncpg"):
            return (f"cannot connect to {postgres_target(settings)}: {_socket_reason(exc)}; "
                    f"{_fix_postgres(settings)}")
        if _raised_in(exc, "aiokafka"):
            return (f"cannot reach {kafka_target(settings)}: {_socket_reason(exc)}; "
                    f"{_fix_kafka(settings)}")
    detail = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {detail[0]}" if detail else type(exc).__name__
    return f"{text} (set CORE_DEBUG=1 for the traceback)"
