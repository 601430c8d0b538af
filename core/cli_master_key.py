"""`core keys rotate-master`: re-wrap every live data key under a new master key.

The old key is the deployment's (`CORE_MASTER_KEY` / `CORE_MASTER_KEY_FILE`); the new one
comes from `CORE_NEW_MASTER_KEY` or `--new-key-file` (never the command line, which other
local users can read). One transaction: every live key moves, or none. The event log is not
touched: it holds ciphertext under data keys, which do not change. Afterwards, set the new
key as `CORE_MASTER_KEY` and restart APIs and workers; until then they still hold the old
key and fail to unwrap keys they have not cached.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from kernel.db import connect_plain
from kernel.settings import Settings
from kernel.shredding import MasterKeyError, master_key_from, parse_master_key, rotate_master


def new_master(args: argparse.Namespace) -> bytes:
    if args.new_key_file:
        return parse_master_key(Path(args.new_key_file).read_text())
    text = os.environ.get("CORE_NEW_MASTER_KEY", "")
    if not text:
        raise MasterKeyError("set CORE_NEW_MASTER_KEY or pass --new-key-file")
    return parse_master_key(text)


def cmd_rotate_master(settings: Settings, args: argparse.Namespace) -> int:
    try:
        old, new = master_key_from(settings), new_master(args)
    except (MasterKeyError, OSError) as exc:
        print(f"refusing: {exc}", file=sys.stderr)
        return 2
    if old is None:
        print("refusing: no current master key (CORE_MASTER_KEY or CORE_MASTER_KEY_FILE)",
              file=sys.stderr)
        return 2

    async def run() -> int:
        conn = await connect_plain(settings.resolved_database_url())
        try:
            moved = await rotate_master(conn, old, new)
        finally:
            await conn.close()
        print(f"{moved} data keys re-wrapped under the new master key; set it as "
              "CORE_MASTER_KEY and restart every API and worker")
        return 0

    return asyncio.run(run())
