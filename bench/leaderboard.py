"""Leaderboard recompute: one contest of 500 participants over a month of realistic activity.

    .venv/bin/python bench/leaderboard.py [--engines sqlite,postgres]
        [--pg-url postgresql://postgres@127.0.0.1:5432] [--reps 500] [--days 30] [--per-day 15]
        [--runs 30] [--max-seconds 600]

Target: a recompute under 50 ms (p95).

For each engine, a fresh migrated database (SQLite in a temporary directory;
PostgreSQL ``fs_bench_leaderboard``, created and dropped here) with one org,
``--reps`` reps and ``--reps x --days x --per-day`` activities (visits, calls,
texts, emails, meetings, notes; a share verified, calls with outcomes), spread
over the contest's 30-day window and the 30 days before it (the
``improvement`` baseline). A published contest (visits x2, connected calls,
meetings; verified-only; eligibility 20 activities) of all reps runs; each
``recompute(contest_id)`` is timed as a whole transaction (lock, one grouped
query, scoring, writes):

* ``first``: the first recompute, which inserts the 500 entries;
* ``unchanged``: nothing new since the last recompute (reads and compares, writes nothing);
* ``10 / 50 reps changed``: that many reps each got 3 more verified visits since the last
  recompute (only they are re-measured; the rank changes they cause are written);
* ``improvement``: the same field scored against each rep's baseline month (twice the rows read).

Progress goes to stderr, the report to stdout. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    DEFAULT_PG_URL,
    bound_engine,
    exit_on_sigterm,
    machine_note,
    temp_pg_database,
    temp_sqlite_url,
)
from bench._sync import log, stats

PG_DATABASE = "fs_bench_leaderboard"
TARGET_MS = 50.0
START = datetime(2026, 6, 1, tzinfo=UTC)
ACTIVITY_COLUMNS = ("id", "org_id", "version", "created_at", "updated_at", "deleted_at", "field_versions",
                    "rep_id", "type", "direction", "outcome", "occurred_at", "received_at", "verification",
                    "mock_location")
TYPES = ["visit"] * 5 + ["call"] * 5 + ["text", "email", "meeting", "note"]


async def seed(org_name: str, reps: int, days: int, per_day: int) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID]]:
    from server.db.bulk import insert_rows
    from server.db.tx import unit_of_work
    from server.orgs.service import create_org
    from server.users.service import create_user

    async with unit_of_work():
        org = await create_org(org_name)
        manager = await create_user(org, email=f"boss-{uuid.uuid4().hex[:6]}@bench.example", password="bench-pass-1",
                                    full_name="Boss", role="admin", password_time_cost=1)
    people = []
    for i in range(reps):
        async with unit_of_work():
            people.append(await create_user(org, email=f"rep{i}-{uuid.uuid4().hex[:6]}@bench.example",
                                            password="bench-pass-1", full_name=f"Rep {i}", role="rep",
                                            manager_id=manager, password_time_cost=1))
    rnd = random.Random(7)
    now = datetime.now(UTC)
    rows = []
    for rep in people:
        for day in range(-days, days):  # the baseline month and the contest month
            for _ in range(per_day if day >= 0 else per_day // 2):
                kind = rnd.choice(TYPES)
                at = START + timedelta(days=day, seconds=rnd.randrange(8 * 3600, 18 * 3600))
                outcome = rnd.choice(["connected", "connected", "no_answer", "voicemail"]) if kind == "call" else None
                verified = "verified" if kind in ("visit", "call") and rnd.random() < 0.6 else None
                rows.append((uuid.uuid4(), org, 1, now, now, None, "{}", rep, kind, "out", outcome, at, now, verified,
                             False))
    log(f"inserting {len(rows):,} activities")
    for i in range(0, len(rows), 50_000):
        async with unit_of_work():
            await insert_rows("activities", ACTIVITY_COLUMNS, rows[i:i + 50_000])
    return org, manager, people


async def run_engine(url: str, args) -> dict:
    from server.access.principal import Principal
    from server.access.scope import Scope
    from server.db.tx import unit_of_work
    from server.incentives import leaderboard, service
    from server.incentives.rules import MetricLine, Participants
    from server.incentives.schemas import ContestIn

    out: dict = {}
    async with bound_engine(url, pool_size=4):
        log("seeding")
        org, admin, reps = await seed(f"LB bench {uuid.uuid4().hex[:6]}", args.reps, args.days, args.per_day)
        scope = await Scope.build(Principal(admin, org, "admin", uuid.uuid4()))

        async def contest(scoring: str) -> uuid.UUID:
            data = ContestIn(name=f"Bench {scoring}", starts_at=START, ends_at=START + timedelta(days=args.days),
                             participants=Participants(user_ids=reps), scoring=scoring, verified_only=True,
                             min_activities=20, metrics=[MetricLine(metric="visits", weight=2),
                                                         MetricLine(metric="connected_calls"),
                                                         MetricLine(metric="meetings")])
            async with unit_of_work():
                row = await service.create_contest(scope, data)
            async with unit_of_work():
                row = await service.publish_contest(scope, row["id"], now=START - timedelta(hours=1))
            from server.db.direct import execute

            async with unit_of_work():  # running, without the tick's own first recompute
                await execute("UPDATE contests SET status = 'running' WHERE id = ?", [row["id"]])
            return row["id"]

        async def timed(contest_id) -> tuple[float, int]:
            t = time.perf_counter()
            written = await leaderboard.recompute(contest_id)
            return (time.perf_counter() - t) * 1000, written

        raw = await contest("raw")
        ms, written = await timed(raw)
        out["first (inserts entries)"] = ({"n": 1, "p50": ms, "p95": ms, "max": ms}, written)
        for _ in range(3):
            await timed(raw)  # warm
        samples, writes = [], 0
        for _ in range(args.runs):
            ms, written = await timed(raw)
            samples.append(ms)
            writes += written
        out["unchanged"] = (stats(samples), writes // args.runs)
        rnd = random.Random(11)
        from server.db.bulk import insert_rows
        from server.db.clock import next_versions

        for size in (10, 50):
            samples, writes = [], 0
            for i in range(args.runs):
                now = datetime.now(UTC)
                changed = rnd.sample(reps, size)
                async with unit_of_work():  # as a sync push writes them: each with its own new version
                    versions = iter(await next_versions(org, 3 * size))
                    await insert_rows("activities", ACTIVITY_COLUMNS, [
                        (uuid.uuid4(), org, next(versions), now, now, None, "{}", r, "visit", "out", None,
                         START + timedelta(days=2, minutes=i), now, "verified", False)
                        for r in changed for _ in range(3)])
                ms, written = await timed(raw)
                samples.append(ms)
                writes += written
            out[f"{size} reps changed"] = (stats(samples), writes // args.runs)
        improvement = await contest("improvement")
        await timed(improvement)
        samples = [(await timed(improvement))[0] for _ in range(args.runs)]
        out["improvement, unchanged"] = (stats(samples), 0)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=15)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--max-seconds", type=float, default=600)
    args = parser.parse_args()
    exit_on_sigterm(args.max_seconds)
    results = {}
    for engine in args.engines.split(","):
        log(f"{engine}")
        if engine == "sqlite":
            with temp_sqlite_url() as url:
                results[engine] = await run_engine(url, args)
        else:
            async with temp_pg_database(args.pg_url, PG_DATABASE) as url:
                results[engine] = await run_engine(url, args)
    window = args.reps * args.days * args.per_day
    lines = ["# Leaderboard recompute (one transaction: lock, grouped query, scoring, changed-row writes)", "",
             (f"command: .venv/bin/python bench/leaderboard.py --engines {args.engines} --reps {args.reps} "
             f"--days {args.days} --per-day {args.per_day} --runs {args.runs}"),
             machine_note(),
             (f"data: {args.reps} participants, {window:,} activities in the window and {window // 2:,} in the "
             f"baseline month before it; target: p95 < {TARGET_MS:.0f} ms"), "",
             "| engine | case | n | p50 ms | p95 ms | max ms | entries written per run | p95 target |",
             "|---|---|---|---|---|---|---|---|"]
    for engine, cases in results.items():
        for name, (s, written) in cases.items():
            verdict = "ok" if s["p95"] < TARGET_MS else "OVER TARGET"
            lines.append(f"| {engine} | {name} | {s['n']} | {s['p50']:.1f} | {s['p95']:.1f} | {s['max']:.1f} "
                         f"| {written} | {verdict} |")
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
