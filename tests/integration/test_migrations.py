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


REFERENCE_ROWS = """
INSERT INTO memories (id, project_id, subject_id, text) VALUES
  ('m-1', 'a', 's', 'one'), ('m-2', 'a', 's', 'two');
INSERT INTO claims (claim_id, project_id, subject_id, predicate, object_value, slot,
  source_memory_id) VALUES ('c-1', 'a', 's', 'p', 'v', 'p', 'm-1'),
  ('c-2', 'a', 's', 'p', 'w', 'p', NULL), ('c-x', 'b', 's', 'p', 'v', 'p', 'm-2');
INSERT INTO claim_assertions (assertion_id, project_id, subject_id, claim_id, memory_id,
  predicate) VALUES ('a-1', 'a', 's', 'c-1', 'm-1', 'p');
INSERT INTO claim_edges (project_id, subject_id, from_claim_id, to_claim_id, edge_type)
  VALUES ('a', 's', 'c-2', 'c-1', 'supersedes');
INSERT INTO slot_state (project_id, subject_id, slot, active_claim_id)
  VALUES ('a', 's', 'p', 'c-2');
INSERT INTO memory_recall_events (event_id, project_id, subject_id, memory_id)
  VALUES ('r-1', 'a', 's', 'm-1');
"""
"""A reference database's rows, one of them (`c-x`, project b) naming a memory of project a,
which the reference schema allowed."""


async def test_ids_per_project_migrates_a_database_with_data(empty_db: str,
                                                             tmp_path: Path) -> None:
    before = tmp_path / "before"
    before.mkdir()
    files = migration_files()
    new = [f for f in files if f.version.endswith("_ids_per_project")]
    for f in files[:files.index(new[0])]:
        shutil.copy(f.path, before / f.path.name)
    conn = await asyncpg.connect(empty_db)
    try:
        await migrate(conn, before)
        await conn.execute(REFERENCE_ROWS)
        await migrate(conn)
        await conn.execute("INSERT INTO memories (id, project_id, subject_id, text) "
                           "VALUES ('m-1', 'b', 's', 'same id, other project')")
        await conn.execute("INSERT INTO claims (claim_id, project_id, subject_id, predicate, "
                           "object_value, slot, source_memory_id) "
                           "VALUES ('c-1', 'b', 's', 'p', 'v', 'p', 'm-1')")
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute("INSERT INTO claims (claim_id, project_id, subject_id, "
                               "predicate, object_value, slot, source_memory_id) "
                               "VALUES ('c-3', 'b', 's', 'p', 'v', 'p', 'm-2')")
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute("INSERT INTO memories (id, project_id, subject_id, text) "
                               "VALUES ('m-1', 'a', 's2', 'taken in a')")
        await conn.execute("DELETE FROM memories WHERE project_id = 'a' AND id = 'm-1'")
        assert await conn.fetchval("SELECT count(*) FROM memory_recall_events") == 0
        linked = await conn.fetch("SELECT project_id, source_memory_id FROM claims "
                                  "WHERE claim_id = 'c-1' ORDER BY project_id")
        assert [tuple(r) for r in linked] == [("a", None), ("b", "m-1")]
        valid = await conn.fetch("SELECT conname, convalidated FROM pg_constraint "
                                 "WHERE contype = 'f' ORDER BY conname")
        assert {r["conname"]: r["convalidated"] for r in valid} == {
            "claim_assertions_claim_id_fkey": True, "claim_assertions_memory_id_fkey": True,
            "claim_edges_from_claim_id_fkey": True, "claim_edges_to_claim_id_fkey": True,
            "fk_claim_source_memory": False, "memory_recall_events_memory_id_fkey": True,
            "slot_state_active_claim_id_fkey": True}
    finally:
        await conn.close()


def _old_edge_id(partition: int, offset: int, k: int) -> int:
    return (partition << 53) + (offset << 13) + k


async def test_edge_ids_are_renumbered_as_a_replay_would(empty_db: str, tmp_path: Path) -> None:
    """0018: old ids (partition · 2^53 + offset · 2^13 + k) become partition · 2^41 + the
    edge's rank in its project and partition, in log order; the counters continue after."""
    before = tmp_path / "before"
    before.mkdir()
    files = migration_files()
    new = [f for f in files if f.version.endswith("_edge_ids_below_2_53")]
    for f in files[:files.index(new[0])]:
        shutil.copy(f.path, before / f.path.name)
    old = {("a", "c1", "c0"): _old_edge_id(2, 9, 1), ("a", "c2", "c1"): _old_edge_id(2, 5, 0),
           ("a", "c4", "c3"): _old_edge_id(0, 3, 0), ("b", "c1", "c0"): _old_edge_id(2, 7, 0),
           ("a", "c5", "c4"): _old_edge_id(11, 2**39, 8191)}
    conn = await asyncpg.connect(empty_db)
    try:
        await migrate(conn, before)
        for project_id in ("a", "b"):
            await conn.executemany(
                "INSERT INTO claims (claim_id, project_id, subject_id, predicate, object_value, "
                "slot) VALUES ($1, $2, 's', 'p', 'v', 'p')",
                [(f"c{i}", project_id) for i in range(6)])
        await conn.executemany(
            "INSERT INTO claim_edges (edge_id, project_id, subject_id, from_claim_id, "
            "to_claim_id, edge_type) VALUES ($1, $2, 's', $3, $4, 'supersedes')",
            [(i, p, f, t) for (p, f, t), i in old.items()])
        await migrate(conn)
        rows = await conn.fetch("SELECT project_id, from_claim_id, to_claim_id, edge_id "
                                "FROM claim_edges")
        assert {(r[0], r[1], r[2]): r[3] for r in rows} == {
            ("a", "c2", "c1"): 2 << 41, ("a", "c1", "c0"): (2 << 41) + 1,
            ("a", "c4", "c3"): 0, ("b", "c1", "c0"): 2 << 41, ("a", "c5", "c4"): 11 << 41}
        counters = await conn.fetch("SELECT project_id, partition, next_edge FROM edge_counters")
        assert {(r[0], r[1]): r[2] for r in counters} == {
            ("a", 0): 1, ("a", 2): 2, ("b", 2): 1, ("a", 11): 1}
        with pytest.raises(asyncpg.UniqueViolationError):  # unique per project
            await conn.execute("INSERT INTO claim_edges (edge_id, project_id, subject_id, "
                               "from_claim_id, to_claim_id, edge_type) "
                               "VALUES (0, 'a', 's', 'c3', 'c2', 'supersedes')")
    finally:
        await conn.close()
