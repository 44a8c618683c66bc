"""Live-update latency: from a manager's write request to the poke on a rep's phone stream.

    .venv/bin/python bench/poke_latency.py [--engines sqlite,postgres]
        [--pg-url postgresql://postgres@127.0.0.1:5432] [--writes 200] [--other-streams 20]
        [--max-seconds 600]

Target (SYNC.md guarantee 10, issue): p95 under 250 ms.

For each engine, a fresh migrated database (SQLite in a temporary directory;
PostgreSQL ``fs_bench_pokes``, created and dropped here) with one org: a
manager, the rep whose phone is measured, and ``--other-streams`` more reps
whose phones are connected too (their streams receive and filter every
message, as in a real team). The real server runs as ``fieldsales serve``
subprocesses:

* SQLite: one process (its in-memory broker) serves the writes and the streams;
* PostgreSQL: the writes go to process A and the streams to process B, so every
  poke crosses ``LISTEN/NOTIFY``.

Scenario ``http_patch``: the manager changes the name of an account the rep
owns (``PATCH /api/v1/accounts/{id}``), one write at a time; the latency is
from sending the request to reading ``event: poke`` with the write's version
on the rep's stream (httpx, a real socket). On PostgreSQL, scenario
``direct_commit`` isolates the broker: this process commits
``poke_after_commit`` inside ``unit_of_work()`` on the same database with its
own broker (the app's plugin, started here) and times commit-start to poke.

Progress goes to stderr, the report to stdout. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sys
import time
import uuid
from pathlib import Path

import httpx
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    DEFAULT_PG_URL,
    Server,
    bound_engine,
    exit_on_sigterm,
    machine_note,
    temp_pg_database,
    temp_sqlite_url,
)
from bench._sync import log, stats

PG_DATABASE = "fs_bench_pokes"
TARGET_P95_MS = 250.0
PASSWORD = "bench-password-1"


# -- data -----------------------------------------------------------------------
async def seed(url: str, other_reps: int) -> dict:
    """Migrate ``url`` and create the org and its people (this process, engine released after)."""
    from server.db.tx import unit_of_work
    from server.orgs.service import create_org
    from server.users.service import create_user

    async with bound_engine(url, pool_size=2):
        async with unit_of_work():
            org = await create_org(f"Poke bench {uuid.uuid4().hex[:6]}")

        async def person(role: str, manager: uuid.UUID | None) -> tuple[uuid.UUID, str]:
            email = f"{role}-{uuid.uuid4().hex[:8]}@bench.example"
            async with unit_of_work():
                uid = await create_user(org, email=email, password=PASSWORD, full_name=email[:12],
                                        role=role, manager_id=manager, password_time_cost=1)
            return uid, email

        manager = await person("manager", None)
        rep = await person("rep", manager[0])
        others = [await person("rep", manager[0]) for _ in range(other_reps)]
    return {"org": org, "manager": manager, "rep": rep, "others": others}


# -- a phone's stream -------------------------------------------------------------
class Phone:
    """A logged-in device with its SSE stream read into (arrival time, version) pairs."""

    def __init__(self, base: str, email: str) -> None:
        self.base, self.email = base, email
        self.device_id = uuid.uuid4()
        self.pokes: asyncio.Queue[tuple[float, int]] = asyncio.Queue()
        self.http = httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(10, read=None))
        self.task: asyncio.Task | None = None
        self.ready = asyncio.Event()

    async def connect(self) -> None:
        r = await self.http.post("/api/v1/auth/login", json={
            "email": self.email, "password": PASSWORD, "device_id": str(self.device_id)})
        r.raise_for_status()
        self.token = r.json()["access_token"]
        self.task = asyncio.create_task(self._read())
        await asyncio.wait_for(self.ready.wait(), 10)

    async def _read(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.stream("GET", "/api/v1/sync/events", headers=headers,
                                    params={"device_id": str(self.device_id)}) as response:
            response.raise_for_status()
            event = data = None
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line.partition(":")[2].strip()
                elif line.startswith("data:"):
                    data = line.partition(":")[2].strip()
                elif line == "" and event:
                    if event == "poke":
                        self.pokes.put_nowait((time.perf_counter(), msgspec.json.decode(data)["version"]))
                        self.ready.set()
                    event = data = None

    async def poke_at(self, version: int, timeout: float = 5.0) -> float:
        """Arrival time of the first poke at ``version`` or later (earlier ones are skipped)."""
        deadline = time.perf_counter() + timeout
        while True:
            arrived, got = await asyncio.wait_for(self.pokes.get(), max(0.0, deadline - time.perf_counter()))
            if got >= version:
                return arrived

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await self.task
        await self.http.aclose()


# -- scenarios ----------------------------------------------------------------------
async def http_patch(write_base: str, stream_base: str, people: dict, writes: int, other_streams: int) -> dict:
    phone = Phone(stream_base, people["rep"][1])
    others = [Phone(stream_base, email) for _, email in people["others"][:other_streams]]
    async with httpx.AsyncClient(base_url=write_base, timeout=30) as http:
        r = await http.post("/api/v1/auth/login", json={"email": people["manager"][1], "password": PASSWORD})
        r.raise_for_status()
        boss = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = await http.post("/api/v1/accounts", headers=boss,
                            json={"name": "Bench account", "owner_id": str(people["rep"][0])})
        r.raise_for_status()
        url = f"/api/v1/accounts/{r.json()['id']}"
        try:
            for p in [phone, *others]:
                await p.connect()
            for _ in range(20):  # warm-up
                await http.patch(url, headers=boss, json={"name": f"warm {uuid.uuid4().hex[:6]}"})
            await asyncio.sleep(0.2)
            while not phone.pokes.empty():
                phone.pokes.get_nowait()
            latencies, request_ms = [], []
            for i in range(writes):
                sent = time.perf_counter()
                r = await http.patch(url, headers=boss, json={"name": f"Bench account {i}"})
                answered = time.perf_counter()
                r.raise_for_status()
                arrived = await phone.poke_at(r.json()["version"])
                latencies.append((arrived - sent) * 1000)
                request_ms.append((answered - sent) * 1000)
                await asyncio.sleep(0.01)  # one write at a time, as a manager would
        finally:
            for p in [phone, *others]:
                await p.close()
    return {"poke": stats(latencies), "request": stats(request_ms)}


async def direct_commit(url: str, stream_base: str, people: dict, writes: int) -> dict:
    """This process commits pokes on the same PostgreSQL with its own broker (no HTTP write)."""
    from server.config import load_settings
    from server.db.clock import next_version
    from server.db.tx import unit_of_work
    from server.sync.broker import channels_plugin
    from server.sync.events import poke_after_commit

    phone = Phone(stream_base, people["rep"][1])
    org, rep = people["org"], people["rep"][0]
    settings = load_settings(database_url=url, secret_key="unused", data_dir="/tmp/fs-bench-unused")
    async with bound_engine(url, run_migrations=False, pool_size=2), channels_plugin(settings):
        try:
            await phone.connect()
            latencies = []
            for i in range(writes + 20):
                sent = time.perf_counter()
                async with unit_of_work():
                    version = await next_version(org)
                    poke_after_commit(org, frozenset({rep}), version)
                arrived = await phone.poke_at(version)
                if i >= 20:
                    latencies.append((arrived - sent) * 1000)
                await asyncio.sleep(0.01)
        finally:
            await phone.close()
    return {"poke": stats(latencies)}


# -- runs -----------------------------------------------------------------------------
async def run_sqlite(args) -> dict:
    with temp_sqlite_url() as url:
        log("sqlite: seeding")
        people = await seed(url, args.other_streams)
        with Server(url) as server:
            log(f"sqlite: one server process on {server.base_url}; {args.writes} writes")
            return {"http_patch": await http_patch(server.base_url, server.base_url, people,
                                                    args.writes, args.other_streams)}


async def run_postgres(args) -> dict:
    async with temp_pg_database(args.pg_url, PG_DATABASE) as url:
        log("postgres: seeding")
        people = await seed(url, args.other_streams)
        secret = {"FIELDSALES_SECRET_KEY": secrets.token_urlsafe(48)}  # both processes accept the tokens
        with Server(url, extra_env=secret) as a, Server(url, extra_env=secret) as b:
            log(f"postgres: writes to {a.base_url}, streams on {b.base_url}; {args.writes} writes")
            out = {"http_patch": await http_patch(a.base_url, b.base_url, people, args.writes,
                                                  args.other_streams)}
            log("postgres: direct commits from this process")
            out["direct_commit"] = await direct_commit(url, b.base_url, people, args.writes)
            return out


def report(results: dict, args) -> str:
    lines = ["# Poke latency (write request sent -> poke read on the phone's stream)", "",
             f"command: .venv/bin/python bench/poke_latency.py --engines {args.engines} "
             f"--writes {args.writes} --other-streams {args.other_streams}",
             machine_note(), f"target: p95 < {TARGET_P95_MS:.0f} ms", "",
             "| engine | scenario | processes | n | p50 ms | p95 ms | p99 ms | max ms "
             "| write request p50 / p95 ms | p95 target |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for engine, scenarios in results.items():
        for name, r in scenarios.items():
            procs = "1 (write + stream)" if engine == "sqlite" else (
                "A write, B stream" if name == "http_patch" else "bench process commits, B stream")
            p = r["poke"]
            req = r.get("request")
            req_text = f"{req['p50']:.1f} / {req['p95']:.1f}" if req else "-"
            verdict = "ok" if p["p95"] < TARGET_P95_MS else "OVER TARGET"
            lines.append(f"| {engine} | {name} | {procs} | {p['n']} | {p['p50']:.1f} | {p['p95']:.1f} | "
                         f"{p['p99']:.1f} | {p['max']:.1f} | {req_text} | {verdict} |")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--other-streams", type=int, default=20,
                        help="other reps' phones connected to the same org (they filter every message)")
    parser.add_argument("--max-seconds", type=float, default=600)
    args = parser.parse_args()
    exit_on_sigterm(args.max_seconds)
    results = {}
    for engine in args.engines.split(","):
        results[engine] = await (run_sqlite(args) if engine == "sqlite" else run_postgres(args))
    print(report(results, args))


if __name__ == "__main__":
    asyncio.run(main())
