"""Child processes that never outlive their parent (PR_SET_PDEATHSIG) and stop on request."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _preexec(run_as: tuple[int, int] | None) -> Callable[[], None]:
    def setup() -> None:
        os.setpgrp()
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if run_as is not None:
            os.setgid(run_as[1])
            os.setgroups([])
            os.setuid(run_as[0])
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

    return setup


class ChildProcess:
    def __init__(self, name: str, popen: subprocess.Popen[bytes], stop_signal: int) -> None:
        self.name = name
        self.popen = popen
        self.stop_signal = stop_signal

    @classmethod
    def start(
        cls,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path | None = None,
        run_as: tuple[int, int] | None = None,
        env: dict[str, str] | None = None,
        stop_signal: int = signal.SIGTERM,
        cwd: Path | None = None,
    ) -> ChildProcess:
        out = log_path.open("ab") if log_path else None
        popen = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            stdin=subprocess.DEVNULL,
            preexec_fn=_preexec(run_as),
            env=env,
            cwd=cwd,
        )
        if out:
            out.close()
        return cls(name, popen, stop_signal)

    @staticmethod
    def run_once(argv: Sequence[str], *, run_as: tuple[int, int] | None = None) -> None:
        done = subprocess.run(list(argv), preexec_fn=_preexec(run_as), capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(
                f"{argv[0]} failed ({done.returncode}): {done.stderr.decode(errors='replace')}"
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            raise RuntimeError(f"{self.name} exited with code {self.popen.returncode}")

    def request_stop(self) -> None:
        """Sends the stop signal without waiting (to stop several children in parallel)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(self.stop_signal)

    def stop(self, timeout: float = 30.0) -> None:
        if not self.alive():
            return
        self.request_stop()
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)

    def kill(self) -> None:
        if self.alive():
            self.popen.kill()
            self.popen.wait(timeout=10)


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(host: str, port: int, *, timeout: float, child: ChildProcess | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None:
            child.check_alive()
        if port_open(host, port):
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout:.0f} s")


def free_port(pair: bool = False) -> int:
    """A free loopback port; with `pair`, its successor is free too (Kafka's controller)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if not pair:
            return port
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue
