"""What every `core` command does before its work: logging by `CORE_DEBUG`, and the
database check — stop with `Missing env var: <NAME>` rather than a connection traceback,
and say which database was chosen."""

from __future__ import annotations

import logging
import sys

from kernel.db_target import MissingEnvVar, describe_url, embedded_runtime_present
from kernel.settings import Settings

log = logging.getLogger("core")
SERVICES = {"dev", "serve", "worker"}
NO_DATABASE = {"dev", "topics", "events", "bench"}  # manage their own or need only Kafka
NOISY = ("aiokafka", "kafka", "asyncio", "faust", "mode", "httpcore", "httpx", "openai",
         "uvicorn", "urllib3")


def configure_logging(debug: bool, quiet: bool = False) -> None:
    """INFO for the services, WARNING for one-shot commands (`quiet`: stderr is kept for
    warnings, errors and the progress bar); with CORE_DEBUG our own `core.*` loggers go to
    DEBUG (third-party libraries stay at INFO: their debug output would drown ours)."""
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("core").setLevel(level)
    for name in NOISY:
        if not quiet or debug:
            logging.getLogger(name).setLevel(logging.INFO)


class StartupRefused(Exception):
    """A one-line reason to stop before doing anything."""


def database_choice(settings: Settings) -> str:
    """How the chosen database is described in the start-up log; raises `StartupRefused`."""
    if settings.database_url:
        return f"{describe_url(settings.database_url)} (DATABASE_URL)"
    if settings.postgres_vars.any_set:
        try:
            settings.postgres_vars.url()
        except (MissingEnvVar, ValueError) as exc:
            raise StartupRefused(str(exc)) from None
        return settings.postgres_vars.describe()
    if embedded_runtime_present(settings.embedded_password_file):
        return f"{describe_url(settings.resolved_database_url())} (embedded, {settings.core_home})"
    raise StartupRefused(str(MissingEnvVar("POSTGRES_HOST")))


def _check_jwt_secret(settings: Settings) -> None:
    from core.auth.jwt_tokens import secret_problem

    problem = secret_problem(settings.jwt_secret)
    if problem is not None:
        raise StartupRefused(f"refusing to start: {problem}")


def prepare(command: str, settings: Settings) -> int | None:
    """None to go on; an exit status after a one-line message on stderr otherwise."""
    configure_logging(settings.debug, quiet=command not in SERVICES)
    if command in NO_DATABASE:
        return None
    try:
        chosen = database_choice(settings)
        if command == "serve":
            _check_jwt_secret(settings)
    except StartupRefused as exc:
        print(exc, file=sys.stderr)
        return 2
    if command not in SERVICES:  # a service says it once its dependencies answered
        announce(settings, chosen)
    return None


def announce(settings: Settings, chosen: str | None = None) -> None:
    """The start-up lines: which database, debug on or off, the non-secret settings. A
    service logs them after its pre-flight checks, so a refusal stays one line."""
    log.info("database: %s", chosen or database_choice(settings))
    log.info("debug: %s", "enabled" if settings.debug else "disabled")
    log.debug("settings: %s", settings.model_dump(include=SAFE_SETTINGS))


SAFE_SETTINGS = {"host", "port", "topic_prefix", "partitions", "worker_group",
                 "default_project_id", "core_ai_mode", "auth", "kafka_bootstrap_servers"}
