"""Which Postgres a process uses, and how to say so in one log line.

Order (spec §2 plus CORE's own settings): `DATABASE_URL`; else the reference's variables
`POSTGRES_HOST` / `POSTGRES_PORT` (5432) / `POSTGRES_DB` / `POSTGRES_USER` /
`POSTGRES_PASSWORD` (a host starting with `/` is a Unix socket directory); else the
embedded runtime of `core dev` (its password file under `CORE_HOME`). Outside `core dev`,
with none of them, a command stops with the spec's `Missing env var: <NAME>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

REQUIRED = ("POSTGRES_HOST", "POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD")


class MissingEnvVar(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"Missing env var: {name}")
        self.name = name


@dataclass(frozen=True)
class PostgresVars:
    host: str
    port: str
    db: str
    user: str
    password: str

    @property
    def any_set(self) -> bool:
        return any((self.host, self.db, self.user, self.password)) or bool(self.port)

    def missing(self) -> str | None:
        """The first required variable that is unset, in the spec's order."""
        for name, value in zip(REQUIRED, (self.host, self.db, self.user, self.password),
                               strict=True):
            if not value:
                return name
        return None

    def url(self) -> str:
        name = self.missing()
        if name is not None:
            raise MissingEnvVar(name)
        auth = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        port = self.port or "5432"
        if not port.isdigit():
            raise ValueError(f"POSTGRES_PORT must be a number, got {port!r}")
        db = quote(self.db, safe="")
        if self.host.startswith("/"):
            return f"postgresql://{auth}@/{db}?host={quote(self.host, safe='/')}&port={port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"postgresql://{auth}@{host}:{port}/{db}"

    def describe(self) -> str:
        where = f"socket {self.host}" if self.host.startswith("/") else self.host
        return f"{where}:{self.port or '5432'}/{self.db} user={self.user} (POSTGRES_*)"


def describe_url(url: str) -> str:
    """`host:port/db user=…` of a DSN, without its password."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    user = unquote(parts.username or "")
    host = parts.hostname or "(socket)"
    port = parts.port or 5432
    return f"{host}:{port}{parts.path} user={user}"


def embedded_runtime_present(password_file: Path) -> bool:
    """`core dev` ran in this CORE_HOME (its embedded Postgres keeps a password file)."""
    return password_file.exists()
