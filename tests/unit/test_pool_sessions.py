"""Pooled connections are released without a reset query (`kernel.db._keep_session`), which
is only sound while no code leaves session state on them: this checks the SQL in the source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kernel", "core", "commands", "projections", "queries")
SESSION_STATE = re.compile(
    r"""["']\s*(SET\s+(?!LOCAL\b)(SESSION\s+)?\w+\s*(=|TO\b)|RESET\s|DECLARE\s+\w+\s+CURSOR\s+WITH\s+HOLD"""
    r"""|SELECT\s+pg_advisory_lock|SELECT\s+pg_try_advisory_lock\b)""", re.IGNORECASE)


OWN_CONNECTION = "# own connection"
"""Marks a statement on a connection of its own (`asyncpg.connect`), never a pooled one."""


def sources() -> list[Path]:
    return [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]


def test_no_session_state_is_set_on_pooled_connections() -> None:
    offending = [f"{p.relative_to(ROOT)}:{n}" for p in sources()
                 for n, line in enumerate(p.read_text().splitlines(), 1)
                 if SESSION_STATE.search(line) and not line.endswith(OWN_CONNECTION)]
    assert offending == []


def test_the_check_sees_session_settings() -> None:
    assert SESSION_STATE.search('await conn.execute("SET search_path TO x")')
    assert SESSION_STATE.search("conn.execute('SELECT pg_advisory_lock(1)')")
    assert not SESSION_STATE.search('conn.execute("SET LOCAL synchronous_commit = on")')
    assert not SESSION_STATE.search('"UPDATE t SET a = 1"')
