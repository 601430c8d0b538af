"""A Postgres of its own for tests that kill it: same data directory and port on restart, so
the session-wide Postgres is never disturbed. Also a loopback TCP proxy a test can cut, to
keep one client away from a Postgres that is up."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from kernel.migrate import migrate
from kernel.runtime.postgres import start_postgres
from kernel.runtime.process import ChildProcess, free_port
from tests.support.system import ARTIFACTS


@dataclass
class OwnPostgres:
    home: Path
    port: int
    child: ChildProcess | None = None

    @classmethod
    def start(cls) -> OwnPostgres:
        home = Path(tempfile.mkdtemp(prefix="core-own-pg-"))
        home.chmod(0o755)
        (ARTIFACTS / "logs").mkdir(parents=True, exist_ok=True)
        own = cls(home, free_port())
        own.restart()
        return own

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def restart(self) -> None:
        """Start on the same data directory and port (crash recovery after a kill)."""
        log = ARTIFACTS / "logs" / f"postgres-own-{self.port}.log"
        self.child = start_postgres(self.home / "pg" / "data", self.port, log)

    def kill(self) -> None:
        """SIGKILL to the postmaster and its backends (one process group), as a crash."""
        assert self.child is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.child.pid, signal.SIGKILL)
        self.child.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()

    async def migrate(self) -> None:
        conn = await asyncpg.connect(self.dsn())
        try:
            await migrate(conn)
        finally:
            await conn.close()


class TcpProxy:
    """Forwards 127.0.0.1:port to a target port; `cut()` drops every connection and refuses
    new ones until `open()`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, up_writer}
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer),
                             return_exceptions=True)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.transport.abort()


async def own_postgres() -> AsyncIterator[OwnPostgres]:
    """Body of a module-scoped fixture: a migrated Postgres of the module's own."""
    own = await asyncio.to_thread(OwnPostgres.start)
    try:
        await own.migrate()
        yield own
    finally:
        own.stop()
