"""Shared helpers for the bench scripts: temporary databases and the real server as a subprocess.

Everything here talks to 127.0.0.1 only and cleans up after itself: temporary
SQLite files live in a temporary directory, PostgreSQL databases are dropped
(``WITH (FORCE)``) on the way out, and a server started here (``Server``, or
another ``ServerProcess`` such as ``bench/kinto_side.py``'s Kinto) runs in its
own process group that is terminated (then killed) when its context exits.
Memory of a process is read from /proc (``rss_kib``, ``pss_kib``, ``vm_hwm_kib``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Self

import asyncpg
import httpx

import server.db  # noqa: F401  (sets PICCOLO_CONF)
from server.db.engine import bind, make_engine, start, stop
from server.db.migrate import migrate

ROOT = Path(__file__).resolve().parent.parent
FIELDSALES = ROOT / ".venv" / "bin" / "fieldsales"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432"
HOST = "127.0.0.1"
DEMO_PASSWORD = "demo-password"


# -- process lifetime ---------------------------------------------------------
def exit_on_sigterm(max_seconds: float | None = None) -> None:
    """Turn SIGTERM (and, after ``max_seconds``, SIGALRM) into SystemExit.

    ``finally`` blocks (server stop, DROP DATABASE) then still run, so a run
    that is stopped or overruns its time limit leaves nothing behind.
    """

    def _raise(signum, frame):
        if signum == signal.SIGALRM:
            print(f"time limit of {max_seconds:g} s reached: stopping", file=sys.stderr, flush=True)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _raise)
    if max_seconds:
        signal.signal(signal.SIGALRM, _raise)
        signal.alarm(max(1, int(max_seconds)))


# -- temporary databases ------------------------------------------------------
@contextlib.contextmanager
def temp_sqlite_url(name: str = "bench.sqlite3") -> Iterator[str]:
    """``sqlite:///<tmpdir>/<name>``; the directory (file, WAL, SHM) is removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="fs-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / name}"


@contextlib.asynccontextmanager
async def temp_pg_database(server_url: str, name: str) -> AsyncIterator[str]:
    """Create database ``name`` on ``server_url`` (dropping a leftover first); drop it afterwards."""
    base = server_url.rstrip("/")
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{base}/{name}"
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def bound_engine(url: str, *, run_migrations: bool = True, pool_size: int = 10):
    """Bind every table to a fresh engine on ``url`` (migrated), release it afterwards."""
    engine = bind(make_engine(url))
    await start(engine, pool_size=pool_size)
    try:
        if run_migrations:
            await migrate()
        yield engine
    finally:
        await stop(engine)


# -- the server as a subprocess -----------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                out += [int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
    return out


def descendants(pid: int) -> list[int]:
    """``pid``'s children, grandchildren, ... (from /proc, Linux only)."""
    found, todo = [], _children(pid)
    while todo:
        child = todo.pop()
        found.append(child)
        todo += _children(child)
    return found


def _proc_kib(pid: int, file: str, field: str) -> int:
    """The KiB figure of line ``field`` in ``/proc/<pid>/<file>`` (0 if the process is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def rss_kib(pid: int) -> int:
    """VmRSS of one process in KiB (0 if it is gone)."""
    return _proc_kib(pid, "status", "VmRSS:")


def vm_hwm_kib(pid: int) -> int:
    """Peak resident set size (VmHWM) of one process in KiB."""
    return _proc_kib(pid, "status", "VmHWM:")


def pss_kib(pid: int) -> int:
    """Proportional set size: shared pages split between the processes sharing them."""
    return _proc_kib(pid, "smaps_rollup", "Pss:")


def cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    return "?"


class ServerProcess:
    """A server run as a subprocess in its own process group (a subclass's ``__enter__`` calls ``spawn``).

    ``spawn`` starts the process and polls ``base_url + ready_path`` until it
    answers 200; leaving the context always stops the whole process group
    (SIGTERM, then SIGKILL).
    """

    #: Who is named when the process exits early, and when it is not ready in time.
    exited_name = not_ready_name = "server"
    ready_path = "/health/ready"
    probe_timeout_s = 2.0
    stop_timeout_s = 10.0
    base_url: str
    ready_timeout_s: float
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    def spawn(self, cmd: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        """Start ``cmd`` (output to ``log_path``) and wait until it is ready; stopped again on failure."""
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.exited_name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                r = httpx.get(f"{self.base_url}{self.ready_path}", timeout=self.probe_timeout_s)
                if r.status_code == 200:
                    return
                last = f"{r.status_code} {r.text[:200]}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.2)
        raise TimeoutError(f"{self.not_ready_name} not ready after {self.ready_timeout_s:.0f} s ({last}):\n"
                           f"{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError, TypeError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def pids(self) -> list[int]:
        """The server process and every process below it (its workers)."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        return [self.proc.pid, *descendants(self.proc.pid)]

    def stop(self, timeout_s: float | None = None) -> None:
        timeout_s = self.stop_timeout_s if timeout_s is None else timeout_s
        if self.proc is not None and self.proc.poll() is None:
            below = descendants(self.proc.pid)
            # The group id is our child's pid (start_new_session): only what we started.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout_s)
            # A worker that outlived its supervisor keeps the group alive: end it too.
            for pid in below:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    if os.getpgid(pid) == self.proc.pid:
                        os.kill(pid, signal.SIGKILL)


class Server(ServerProcess):
    """``fieldsales serve`` on a free port of 127.0.0.1, in its own process group.

    Use as a context manager: it starts the process, waits for ``/health/ready``
    and always stops the whole process group on exit (SIGTERM, then SIGKILL).
    """

    def __init__(self, database_url: str, *, workers: int = 1, ready_timeout_s: float = 120,
                 extra_env: dict[str, str] | None = None) -> None:
        self.database_url = database_url
        self.workers = workers
        self.ready_timeout_s = ready_timeout_s
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.log_path: Path | None = None

    def __enter__(self) -> Self:
        self._tmp = tempfile.TemporaryDirectory(prefix="fs-bench-server-")
        data_dir = Path(self._tmp.name)
        self.log_path = data_dir / "server.log"
        env = {
            **os.environ,
            "FIELDSALES_DATABASE_URL": self.database_url,
            "FIELDSALES_DATA_DIR": str(data_dir),
            "FIELDSALES_SECRET_KEY": secrets.token_urlsafe(48),
            "FIELDSALES_LOG_LEVEL": "WARNING",
            **self.extra_env,
        }
        self.spawn([str(FIELDSALES), "serve", "--host", HOST, "--port", str(self.port),
                    "--workers", str(self.workers)], cwd=ROOT, env=env)
        return self

    def rss_kib(self) -> dict[int, int]:
        """VmRSS per process (the server and uvicorn's workers)."""
        return {pid: rss_kib(pid) for pid in self.pids()}

    def pss_kib(self) -> dict[int, int]:
        """PSS per process (the server and uvicorn's workers)."""
        return {pid: pss_kib(pid) for pid in self.pids()}

    def stop(self, timeout_s: float | None = None) -> None:
        super().stop(timeout_s)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def login(base_url: str, email: str, password: str = DEMO_PASSWORD) -> str:
    r = httpx.post(f"{base_url}/api/v1/auth/login", json={"email": email, "password": password},
                   timeout=30)
    r.raise_for_status()
    return r.json()["access_token"]


def machine_note() -> str:
    return (f"machine: {os.cpu_count()} CPU cores, Python {sys.version.split()[0]}; "
            "server, load generator and database share these cores")
