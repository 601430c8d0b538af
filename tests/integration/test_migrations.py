"""Migrations on a real, empty database: apply, re-apply, checksum guard, status/check."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from kernel.migrate import MIGRATIONS_DIR, ChecksumMismatch, migrate, migration_files, status
from tests.support.system import Infra

pytestmark = pytest.mark.integration

SPEC_COLUMNS = {
    "memories": {"id", "project_id", "subject_id", "text", "kind", "visibility", "importance",
                 "confidence", "is_temporal", "tags", "metadata", "embedding", "status",
                 "superseded_by", "is_deleted", "source_type", "created_at", "updated_at",
                 "last_seen_at", "seen_count", "reinforcement_count", "last_reinforced_at"},
    "claims": {"claim_id", "project_id", "subject_id", "predicate", "object_value", "slot",
               "claim_type", "confidence", "importance", "tags", "source_memory_id",
               "source_observation_id", "subject_entity", "status", "asserted_at", "updated_at",
               "retracted_at", "retract_reason", "embedding", "valid_from", "valid_until"},
    "claim_assertions": {"assertion_id", "project_id", "subject_id", "claim_id", "memory_id",
                         "predicate", "object_type", "value_string", "value_number",
                         "value_date", "value_json", "confidence", "status", "first_seen_at",
                         "last_seen_at"},
    "claim_edges": {"edge_id", "project_id", "subject_id", "from_claim_id", "to_claim_id",
                    "edge_type", "weight", "reason_code", "reason_text", "created_at"},
    "slot_state": {"project_id", "subject_id", "slot", "active_claim_id", "status",
                   "replaced_by_claim_id", "updated_at"},
    "memory_recall_events": {"event_id", "project_id", "subject_id", "memory_id", "memory_text",
                             "chat_id", "message_index", "chat_logged", "similarity_score",
                             "request_type", "model", "metadata", "recalled_at"},
}


@pytest.fixture
async def empty_db(infra: Infra) -> AsyncIterator[str]:
    name = f"mig_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(infra.dsn())
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield infra.dsn(name)


async def test_fresh_apply_then_reapply_is_noop(empty_db: str) -> None:
    conn = await asyncpg.connect(empty_db)
    try:
        applied = await migrate(conn)
        assert applied == [f.version for f in migration_files()]
        assert await migrate(conn) == []
        current = await status(conn)
        assert current.in_sync and current.pending == []
        for table, columns in SPEC_COLUMNS.items():
            rows = await conn.fetch("SELECT column_name FROM information_schema.columns "
                                    "WHERE table_name = $1", table)
            assert columns <= {r["column_name"] for r in rows}, table
    finally:
        await conn.close()


async def test_changed_checksum_is_refused(empty_db: str, tmp_path: Path) -> None:
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, copy)
    conn = await asyncpg.connect(empty_db)
    try:
        await migrate(conn, copy)
        first = sorted(copy.glob("*.sql"))[0]
        first.write_text(first.read_text() + "\n-- edited after it was applied\n")
        assert (await status(conn, copy)).changed == [first.stem]
        with pytest.raises(ChecksumMismatch):
            await migrate(conn, copy)
    finally:
        await conn.close()


def run_cli(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "core.cli", "migrate", *args],
                          env={"DATABASE_URL": dsn, "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)


async def test_cli_status_and_check(empty_db: str) -> None:
    pending = run_cli(empty_db, "--check")
    assert pending.returncode == 1 and "pending" in pending.stdout
    assert run_cli(empty_db).returncode == 0
    synced = run_cli(empty_db, "--check")
    assert synced.returncode == 0 and "pending" not in synced.stdout
    assert "applied  0001_reference_schema" in run_cli(empty_db, "--status").stdout


async def test_serve_refuses_pending_migrations(empty_db: str, infra: Infra) -> None:
    done = subprocess.run([sys.executable, "-m", "core.cli", "serve"],
                          env={"DATABASE_URL": empty_db, "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap,
                               "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "refusing to start" in done.stderr
