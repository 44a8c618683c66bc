"""Drive a real WatermelonDB client (Node, ``watermelon_client/client.mjs``) from tests.

``WatermelonClient`` is one phone: a long-running ``node client.mjs`` process
holding an in-memory WatermelonDB (LokiJS adapter). Commands go to its stdin
as JSON lines and each gets one JSON line back (see the top of client.mjs).

``ensure_node_modules()`` installs the harness's pinned npm packages
(``npm ci``) the first time; without Node.js the tests skip, except under
``CI=true`` where they fail.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import pytest

HARNESS_DIR = Path(__file__).parent / "watermelon_client"
IN_CI = os.environ.get("CI", "").lower() == "true"
_install_lock = threading.Lock()


class WatermelonError(AssertionError):
    """The client answered ``ok: false`` (or not at all)."""


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def ensure_node_modules() -> str:
    """Path of ``node``, with the harness's packages installed; skips (fails in CI) without Node."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    if not node or not npm:
        _unavailable("Node.js 20+ and npm are needed for the WatermelonDB client tests "
                     "(apt-get install nodejs npm)")
    version = subprocess.run([node, "--version"], check=False, capture_output=True, text=True,
                             timeout=30).stdout.strip()
    major = int(version.lstrip("v").split(".")[0] or 0)
    if major < 20:
        _unavailable(f"Node.js 20+ is needed for the WatermelonDB client tests, found {version}")
    with _install_lock:
        # npm ci leaves node_modules/.package-lock.json; a newer package-lock.json means reinstall.
        installed = HARNESS_DIR / "node_modules" / ".package-lock.json"
        wanted = HARNESS_DIR / "package-lock.json"
        if not installed.exists() or installed.stat().st_mtime < wanted.stat().st_mtime:
            r = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], check=False, cwd=HARNESS_DIR,
                               capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                pytest.fail(f"npm ci in {HARNESS_DIR} failed:\n{r.stdout}\n{r.stderr}")
    return node


class WatermelonClient:
    """One headless phone. Use as a context manager, or call ``close()``."""

    def __init__(self, *, timeout: float = 120.0, node: str | None = None) -> None:
        self.timeout = timeout
        self._stderr: deque[str] = deque(maxlen=200)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.proc = subprocess.Popen(
            [node or ensure_node_modules(), "client.mjs"], cwd=HARNESS_DIR,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, encoding="utf-8", bufsize=1,
        )
        self._pumps = [threading.Thread(target=self._pump_stdout, daemon=True),
                       threading.Thread(target=self._pump_stderr, daemon=True)]
        for pump in self._pumps:
            pump.start()

    # -- plumbing

    def _pump_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _pump_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line.rstrip("\n"))

    @property
    def stderr_tail(self) -> str:
        return "\n".join(self._stderr)

    def _send(self, cmd: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError as exc:
            raise WatermelonError(f"client exited ({self.proc.poll()}):\n{self.stderr_tail}") from exc

    def _read(self, what: str, timeout: float | None = None) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout or self.timeout)
        except queue.Empty:
            raise WatermelonError(f"no answer to {what} within {timeout or self.timeout}s:\n"
                                  f"{self.stderr_tail}") from None
        if line is None:
            self._lines.put(None)
            raise WatermelonError(f"client exited ({self.proc.poll()}) during {what}:\n{self.stderr_tail}")
        return json.loads(line)

    def request(self, cmd: dict[str, Any], *, check: bool = True, timeout: float | None = None) -> dict[str, Any]:
        """Send one command, return its answer; ``check`` raises on ``ok: false``."""
        self._send(cmd)
        answer = self._read(cmd.get("op", "?"), timeout)
        if check and not answer.get("ok"):
            raise WatermelonError(f"{cmd.get('op')} failed: {answer}\n{self.stderr_tail}")
        return answer

    # -- commands

    def init(self, base_url: str, token: str, device_id: str, schema: dict, **extra: Any) -> dict:
        return self.request({"op": "init", "base_url": base_url, "token": token,
                             "device_id": device_id, "schema": schema, **extra})

    def sync(self, *, send_created_as_updated: bool = False,
             before_push: Callable[[dict], None] | None = None, check: bool = False,
             timeout: float | None = None, **extra: Any) -> dict:
        """Run ``synchronize()`` once; returns its answer (``ok``, ``status``, counts, timings).

        ``before_push(event)`` runs after the pull is applied and before the push
        is sent (the client waits), e.g. to change the record on the server and
        so provoke a push conflict. It needs local changes to push: without
        them WatermelonDB skips the push and this raises.
        """
        cmd = {"op": "sync", "send_created_as_updated": send_created_as_updated,
               "pause_before_push": before_push is not None, **extra}
        self._send(cmd)
        answer = self._read("sync", timeout)
        if before_push is not None:
            if answer.get("event") != "paused":
                raise WatermelonError(f"sync did not reach its push (nothing to push?): {answer}")
            try:
                before_push(answer)
            finally:
                self._send({"op": "resume"})
            answer = self._read("sync (after resume)", timeout)
        if check and not answer.get("ok"):
            raise WatermelonError(f"sync failed: {answer}\n{self.stderr_tail}")
        return answer

    def create(self, table: str, fields: dict, record_id: str | None = None) -> str:
        cmd = {"op": "create", "table": table, "fields": fields}
        if record_id:
            cmd["id"] = record_id
        return self.request(cmd)["id"]

    def update(self, table: str, record_id: str, fields: dict) -> None:
        self.request({"op": "update", "table": table, "id": record_id, "fields": fields})

    def delete(self, table: str, record_id: str) -> None:
        self.request({"op": "delete", "table": table, "id": record_id})

    def count(self, table: str) -> int:
        return self.request({"op": "count", "table": table})["count"]

    def ids(self, table: str) -> list[str]:
        return self.request({"op": "ids", "table": table})["ids"]

    def get(self, table: str, record_id: str) -> dict | None:
        """The record's columns (no ``_status``/``_changed``); ``None`` if absent or deleted locally."""
        return self.request({"op": "get", "table": table, "id": record_id})["record"]

    def raw(self, table: str, record_id: str) -> dict | None:
        """The stored raw record, ``_status`` and ``_changed`` included."""
        return self.request({"op": "raw", "table": table, "id": record_id})["record"]

    def unsynced(self) -> bool:
        return self.request({"op": "unsynced"})["unsynced"]

    def last_pulled_at(self) -> int | None:
        return self.request({"op": "last_pulled_at"})["last_pulled_at"]

    def set_token(self, token: str) -> None:
        self.request({"op": "set_token", "token": token})

    def upgrade(self, schema: dict, migrations: list[dict]) -> dict:
        """Reopen the same local data under a newer schema, running ``migrations``."""
        return self.request({"op": "upgrade", "schema": schema, "migrations": migrations})

    # -- lifetime

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self._send({"op": "exit"})
                self.proc.wait(timeout=10)
            except (WatermelonError, subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait(timeout=10)
        for pump in self._pumps:  # they end at EOF, now that the process is gone
            pump.join(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
