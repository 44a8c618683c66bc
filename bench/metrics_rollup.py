"""The metrics rollup: 1,000,000 activities from scratch, then an incremental run after 1,000 new ones.

    .venv/bin/python bench/metrics_rollup.py [--engines sqlite,postgres]
        [--pg-url postgresql://postgres@127.0.0.1:5432] [--activities 1000000] [--reps 200]
        [--days 365] [--new 1000] [--time-cap 600]

Targets (issue 6): from scratch under 10 s on PostgreSQL and under 20 s on
SQLite; an incremental rollup after 1,000 new activities under 200 ms; peak
memory of the process under 500 MB.

For each engine: a fresh migrated database (SQLite in a temporary directory;
PostgreSQL ``fs_bench_metrics``, created and dropped here), one org in
America/New_York (so local days cross two DST changes), ``--reps`` reps and
``--activities`` activities spread evenly over ``--days`` days (visits with
check-outs, verified or not; calls connected or not; texts, emails, meetings,
notes), 2,000 leads and 1,000 opportunities, seeded with direct SQL
(``server.db.bulk.insert_rows``: executemany on SQLite, COPY on PostgreSQL) in
chunks. Then:

* ``rebuild``: ``server.metrics.jobs.rebuild`` (every watermark back to 0);
* ``no-op``: ``roll_up`` again with nothing new;
* ``incremental``: ``--new`` activities (today and the two days before, every
  rep, a few late ones from last week) in one transaction, then ``roll_up``
  (median of 5 rounds, each with its own new rows);
* peak memory: VmHWM of this process, reset (``/proc/self/clear_refs``)
  before the rebuild, so seeding does not count.

Progress goes to stderr, the report to stdout. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    DEFAULT_PG_URL,
    bound_engine,
    exit_on_sigterm,
    machine_note,
    vm_hwm_kib,
)
from bench._sync import database, log
from server.db import direct
from server.db.bulk import insert_rows
from server.db.engine import is_sqlite
from server.db.ids import new_id
from server.db.tx import unit_of_work
from server.metrics import jobs
from server.orgs.service import create_org
from server.users.service import create_user

PG_DATABASE = "fs_bench_metrics"
TARGETS = {"postgres": 10.0, "sqlite": 20.0}
TARGET_INCREMENTAL_MS = 200.0
TARGET_PEAK_MB = 500.0
SEED_CHUNK = 50_000
ACTIVITY_COLUMNS = ("id", "org_id", "version", "rep_id", "type", "direction", "outcome", "occurred_at",
                    "received_at", "ended_at", "duration_s", "verification", "created_at", "updated_at",
                    "field_versions")
KINDS = ("visit",) * 4 + ("call",) * 4 + ("text", "text", "email", "meeting", "note")
END = datetime(2026, 11, 27, 5, tzinfo=UTC)  # first instant of 27 Nov in New York is 05:00 UTC


class Seed:
    def __init__(self, org, reps, version: int) -> None:
        self.org, self.reps, self.version = org, reps, version


def _activity(rng: random.Random, org, rep, version: int, at: datetime, now: datetime) -> tuple:
    kind = rng.choice(KINDS)
    outcome = ended = duration = verification = None
    if kind == "visit":
        duration = rng.randint(5, 60) * 60
        ended = at + timedelta(seconds=duration)
        verification = "verified" if rng.random() < 0.7 else "out_of_range"
    elif kind == "call":
        outcome = "connected" if rng.random() < 0.4 else "voicemail"
        duration = rng.randint(30, 900) if outcome == "connected" else 0
        ended = at + timedelta(seconds=duration)
        verification = "verified" if outcome == "connected" and duration >= 20 else None
    return (new_id(), org, version, rep, kind, "out", outcome, at, at, ended, duration, verification, now, now,
            "{}")


def _working_time(rng: random.Random, day_start: datetime) -> datetime:
    # 08:00-18:00 New York is 12:00-23:00 UTC across the year: stays on the same local day.
    return day_start + timedelta(hours=13, seconds=rng.randint(0, 9 * 3600))


async def _bump_clock(org, version: int) -> None:
    await direct.execute("UPDATE org_clocks SET version = ? WHERE id = ?", [version, org])


async def seed(args, rng: random.Random) -> Seed:
    async with unit_of_work():
        org = await create_org("Bench metrics", timezone="America/New_York")
        reps = [await create_user(org, email=f"rep{i}@bench.example", password="bench-password-1",
                                  full_name=f"Rep {i}", role="rep", password_time_cost=1)
                for i in range(args.reps)]
    now = datetime.now(UTC)
    version = 0
    per_day = args.activities / (args.reps * args.days)
    done = 0
    rows: list[tuple] = []
    first = END - timedelta(days=args.days)
    for d in range(args.days):
        day = first + timedelta(days=d)
        for rep in reps:
            n = int(per_day) + (1 if rng.random() < per_day - int(per_day) else 0)
            for _ in range(n):
                if done >= args.activities:
                    break
                version += 1
                done += 1
                rows.append(_activity(rng, org, rep, version, _working_time(rng, day), now))
        if len(rows) >= SEED_CHUNK or d == args.days - 1:
            async with unit_of_work():
                await insert_rows("activities", ACTIVITY_COLUMNS, rows)
            rows = []
            log(f"seeded {done:,} activities")
    while done < args.activities:  # rounding leftovers on the last day
        version += 1
        done += 1
        rows.append(_activity(rng, org, rng.choice(reps), version, _working_time(rng, END - timedelta(days=1)),
                              now))
    async with unit_of_work():
        await insert_rows("activities", ACTIVITY_COLUMNS, rows)
    # Pipeline: 2,000 leads (a quarter converted) and 1,000 deals (half closed) over the same year.
    leads, deals = [], []
    for i in range(2000):
        version += 1
        created = _working_time(rng, first + timedelta(days=rng.randrange(args.days)))
        converted = created + timedelta(days=rng.randint(1, 20)) if i % 4 == 0 else None
        leads.append((new_id(), org, version, rng.choice(reps), "converted" if converted else "new", "Lead",
                      created, now, converted, "{}"))
    accounts = []
    for i in range(1000):
        version += 1
        account = new_id()
        rep = rng.choice(reps)
        accounts.append((account, org, version, f"Account {i}", rep, now, now, "{}"))
        version += 1
        created = _working_time(rng, first + timedelta(days=rng.randrange(args.days)))
        stage = rng.choice(("prospecting", "closed_won", "closed_lost"))
        closed = created + timedelta(days=rng.randint(1, 30)) if stage != "prospecting" else None
        deals.append((new_id(), org, version, account, rep, "Deal", stage, Decimal(rng.randint(100, 99999)) / 100,
                      created, now, closed, "{}"))
    async with unit_of_work():
        await insert_rows("leads", ("id", "org_id", "version", "owner_id", "status", "last_name", "created_at",
                                    "updated_at", "converted_at", "field_versions"), leads)
        await insert_rows("accounts", ("id", "org_id", "version", "name", "owner_id", "created_at",
                                       "updated_at", "field_versions"), accounts)
        await insert_rows("opportunities", ("id", "org_id", "version", "account_id", "owner_id", "name",
                                            "stage", "amount", "created_at", "updated_at", "closed_at",
                                            "field_versions"), deals)
        await _bump_clock(org, version)
    if not is_sqlite():
        async with unit_of_work():
            await direct.execute("ANALYZE")
    return Seed(org, reps, version)


async def add_new(s: Seed, rng: random.Random, n: int) -> None:
    """``n`` activities as phones would push them: mostly the last three days, a few a week late."""
    now = datetime.now(UTC)
    rows = []
    for i in range(n):
        s.version += 1
        back = rng.randint(4, 7) if i % 50 == 0 else rng.randint(1, 3)
        rows.append(_activity(rng, s.org, rng.choice(s.reps), s.version,
                              _working_time(rng, END - timedelta(days=back)), now))
    async with unit_of_work():
        await insert_rows("activities", ACTIVITY_COLUMNS, rows)
        await _bump_clock(s.org, s.version)


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


async def run_engine(engine: str, args) -> list[str]:
    out = [f"## {engine}"]
    async with database(engine, args.pg_url, PG_DATABASE) as url, bound_engine(url):
        rng = random.Random(6)
        began = time.perf_counter()
        s = await seed(args, rng)
        out.append(f"seed: {args.activities:,} activities, {args.reps} reps, {args.days} days, "
                   f"2,000 leads, 1,000 deals in {time.perf_counter() - began:.1f} s")
        peak_reset = _reset_peak()
        log(f"{engine}: rebuild")
        began = time.perf_counter()
        result = await jobs.rebuild(s.org)
        rebuild_s = time.perf_counter() - began
        peak_mb = vm_hwm_kib(os.getpid()) / 1024
        async with unit_of_work():
            (rows,), = await direct.fetch("SELECT COUNT(*) FROM rep_day_metrics WHERE org_id = ?", [s.org])
            (visits,), = await direct.fetch("SELECT SUM(visits) FROM rep_day_metrics WHERE org_id = ?", [s.org])
        ok = "meets" if rebuild_s < TARGETS[engine] else "MISSES"
        out.append(f"rebuild from scratch: {rebuild_s:.2f} s ({result.chunks} chunks, {result.cells:,} rep-days "
                   f"recomputed, {rows:,} rows, {int(visits):,} visits) -- {ok} the {TARGETS[engine]:g} s target")
        began = time.perf_counter()
        await jobs.roll_up(s.org)
        out.append(f"no-op run: {(time.perf_counter() - began) * 1000:.1f} ms")
        times = []
        for _ in range(5):
            await add_new(s, rng, args.new)
            began = time.perf_counter()
            inc = await jobs.roll_up(s.org)
            times.append((time.perf_counter() - began) * 1000)
        times.sort()
        ok = "meets" if times[2] < TARGET_INCREMENTAL_MS else "MISSES"
        out.append(f"incremental after {args.new:,} new activities: median {times[2]:.1f} ms, max "
                   f"{times[-1]:.1f} ms over 5 rounds ({inc.cells:,} rep-days recomputed in {inc.chunks} chunk(s)) "
                   f"-- {ok} the {TARGET_INCREMENTAL_MS:g} ms target")
        peak_mb = max(peak_mb, vm_hwm_kib(os.getpid()) / 1024)
        ok = "meets" if peak_mb < TARGET_PEAK_MB else "MISSES"
        what = "since the rebuild began" if peak_reset else "whole process, seeding included"
        out.append(f"peak memory (VmHWM, {what}): {peak_mb:.0f} MB -- {ok} the {TARGET_PEAK_MB:g} MB target")
    return out


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--engines", default="sqlite,postgres")
    p.add_argument("--pg-url", default=DEFAULT_PG_URL)
    p.add_argument("--activities", type=int, default=1_000_000)
    p.add_argument("--reps", type=int, default=200)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--new", type=int, default=1000)
    p.add_argument("--time-cap", type=float, default=600)
    args = p.parse_args()
    exit_on_sigterm(args.time_cap)
    lines = ["# metrics rollup", machine_note()]
    for engine in args.engines.split(","):
        lines += await run_engine(engine.strip(), args)
        print("\n".join(lines), flush=True)
        lines = []


if __name__ == "__main__":
    asyncio.run(main())
