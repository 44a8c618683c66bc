"""Contest publish -> poke on a participant's phone stream (SSE), end to end over HTTP.

    .venv/bin/python bench/contest_poke.py [--engines sqlite,postgres]
        [--pg-url postgresql://postgres@127.0.0.1:5432] [--publishes 100] [--other-streams 20]
        [--max-seconds 600]

Target: p95 under 250 ms.

Modelled on ``bench/poke_latency.py`` (same seeding, same phone reader): one
org with a manager, the rep whose phone is measured and ``--other-streams``
more reps, all connected to ``/api/v1/sync/events``. Each round the manager
creates a draft contest for the whole team (not timed), then
``POST /api/v1/contests/{id}/publish`` is sent; the latency runs from sending
that request to reading ``event: poke`` with the publish's version (or later)
on the rep's stream. The publish resolves the participants, writes them, moves
the contest to ``scheduled`` (a synced write that pokes the org) and queues the
participants' pushes, all in one transaction, before the poke leaves.

* SQLite: one ``fieldsales serve`` process (in-memory broker);
* PostgreSQL: the publish goes to process A, the streams to process B, so every
  poke crosses ``LISTEN/NOTIFY``.

Progress goes to stderr, the report to stdout. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    DEFAULT_PG_URL,
    Server,
    exit_on_sigterm,
    machine_note,
    temp_pg_database,
    temp_sqlite_url,
)
from bench._sync import log, stats
from bench.poke_latency import PASSWORD, Phone, seed

PG_DATABASE = "fs_bench_contest_poke"
TARGET_P95_MS = 250.0


async def publishes(write_base: str, stream_base: str, people: dict, rounds: int, other_streams: int) -> dict:
    phone = Phone(stream_base, people["rep"][1])
    others = [Phone(stream_base, email) for _, email in people["others"][:other_streams]]
    team = [str(people["rep"][0]), *(str(uid) for uid, _ in people["others"])]
    async with httpx.AsyncClient(base_url=write_base, timeout=30) as http:
        r = await http.post("/api/v1/auth/login", json={"email": people["manager"][1], "password": PASSWORD})
        r.raise_for_status()
        boss = {"Authorization": f"Bearer {r.json()['access_token']}"}
        start = datetime.now(UTC) + timedelta(days=1)

        async def draft(i: int) -> str:
            r = await http.post("/api/v1/contests", headers=boss, json={
                "name": f"Bench contest {i}", "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(days=7)).isoformat(), "visibility": "top3",
                "participants": {"user_ids": team},
                "metrics": [{"metric": "verified_visits", "weight": 2}, {"metric": "connected_calls"}]})
            r.raise_for_status()
            return r.json()["id"]

        latencies, request_ms = [], []
        try:
            for p in [phone, *others]:
                await p.connect()
            for i in range(10):  # warm-up
                await http.post(f"/api/v1/contests/{await draft(-i)}/publish", headers=boss)
            await asyncio.sleep(0.2)
            while not phone.pokes.empty():
                phone.pokes.get_nowait()
            for i in range(rounds):
                contest_id = await draft(i)
                await asyncio.sleep(0.02)
                while not phone.pokes.empty():  # the draft's own poke is not the one measured
                    phone.pokes.get_nowait()
                sent = time.perf_counter()
                r = await http.post(f"/api/v1/contests/{contest_id}/publish", headers=boss)
                answered = time.perf_counter()
                r.raise_for_status()
                arrived = await phone.poke_at(r.json()["version"])
                latencies.append((arrived - sent) * 1000)
                request_ms.append((answered - sent) * 1000)
                await asyncio.sleep(0.01)
        finally:
            for p in [phone, *others]:
                await p.close()
    return {"poke": stats(latencies), "request": stats(request_ms)}


async def run_sqlite(args) -> dict:
    with temp_sqlite_url() as url:
        log("sqlite: seeding")
        people = await seed(url, args.other_streams)
        with Server(url) as server:
            log(f"sqlite: one server process on {server.base_url}; {args.publishes} publishes")
            return await publishes(server.base_url, server.base_url, people, args.publishes, args.other_streams)


async def run_postgres(args) -> dict:
    async with temp_pg_database(args.pg_url, PG_DATABASE) as url:
        log("postgres: seeding")
        people = await seed(url, args.other_streams)
        secret = {"FIELDSALES_SECRET_KEY": secrets.token_urlsafe(48)}
        with Server(url, extra_env=secret) as a, Server(url, extra_env=secret) as b:
            log(f"postgres: publishes to {a.base_url}, streams on {b.base_url}; {args.publishes} publishes")
            return await publishes(a.base_url, b.base_url, people, args.publishes, args.other_streams)


def report(results: dict, args) -> str:
    lines = ["# Contest publish -> poke on a participant's phone (request sent -> poke read on its SSE stream)",
             "", (f"command: .venv/bin/python bench/contest_poke.py --engines {args.engines} "
             f"--publishes {args.publishes} --other-streams {args.other_streams}"),
             machine_note(), f"participants per contest: {1 + args.other_streams}; target: p95 < {TARGET_P95_MS:.0f} ms",
             "", ("| engine | processes | n | p50 ms | p95 ms | p99 ms | max ms | publish request p50 / p95 ms "
             "| p95 target |"), "|---|---|---|---|---|---|---|---|---|"]
    for engine, r in results.items():
        procs = "1 (publish + streams)" if engine == "sqlite" else "A publish, B streams"
        p, req = r["poke"], r["request"]
        verdict = "ok" if p["p95"] < TARGET_P95_MS else "OVER TARGET"
        lines.append(f"| {engine} | {procs} | {p['n']} | {p['p50']:.1f} | {p['p95']:.1f} | {p['p99']:.1f} | "
                     f"{p['max']:.1f} | {req['p50']:.1f} / {req['p95']:.1f} | {verdict} |")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--publishes", type=int, default=100)
    parser.add_argument("--other-streams", type=int, default=20)
    parser.add_argument("--max-seconds", type=float, default=600)
    args = parser.parse_args()
    exit_on_sigterm(args.max_seconds)
    results = {}
    for engine in args.engines.split(","):
        results[engine] = await (run_sqlite(args) if engine == "sqlite" else run_postgres(args))
    print(report(results, args))


if __name__ == "__main__":
    asyncio.run(main())
