"""Benchmark ``load_demo()`` on a fresh SQLite file and a fresh PostgreSQL database.

    .venv/bin/python bench/demo_data.py [--pg-url postgresql://postgres@127.0.0.1:5432]

Each engine gets a brand-new, migrated database (SQLite in a temporary
directory; PostgreSQL ``fs_bench_demo``, created and dropped here). Prints a
Markdown table: wall time, time per step, rows per table, and pg/sqlite.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import bound_engine, temp_pg_database, temp_sqlite_url
from server.demo import DemoSummary, load_demo

PG_DATABASE = "fs_bench_demo"


class Run:
    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.seconds = 0.0
        self.steps: dict[str, float] = {}  # step -> seconds since start when it finished
        self.summary: DemoSummary | None = None


async def _load(url: str, run: Run, options: dict) -> None:
    async with bound_engine(url):  # migrated
        began = time.perf_counter()

        def progress(step: str, done: int, total: int) -> None:
            if done == total:
                run.steps[step] = time.perf_counter() - began

        run.summary = await load_demo(progress=progress, **options)
        run.seconds = time.perf_counter() - began


async def bench_sqlite(options: dict) -> Run:
    run = Run("sqlite")
    with temp_sqlite_url("demo.sqlite3") as url:
        await _load(url, run, options)
    return run


async def bench_postgres(server_url: str, options: dict) -> Run:
    run = Run("postgres")
    async with temp_pg_database(server_url, PG_DATABASE) as url:
        await _load(url, run, options)
    return run


def report(runs: list[Run]) -> str:
    steps = list(runs[0].steps)
    tables = list(runs[0].summary.counts)
    header = ["engine", "seconds", *(f"{s} (s)" for s in steps)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for run in runs:
        previous, cells = 0.0, []
        for step in steps:
            cells.append(f"{run.steps[step] - previous:.2f}")
            previous = run.steps[step]
        lines.append(f"| {run.engine} | {run.seconds:.2f} | " + " | ".join(cells) + " |")
    if len(runs) == 2:
        lines.append(f"\npg/sqlite: {runs[1].seconds / runs[0].seconds:.2f}")
    lines += ["", "| table | rows |", "|---|---|"]
    lines += [f"| {t} | {runs[0].summary.counts[t]:,} |" for t in tables]
    total = sum(runs[0].summary.counts.values())
    lines.append(f"| **total** | {total:,} |")
    for run in runs:
        lines.append(f"\n{run.engine}: {total / run.seconds:,.0f} rows/s")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url",
                        help="PostgreSQL server URL without a database; omit for SQLite only")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    options = {"reps": args.reps, "accounts": args.accounts, "days": args.days, "seed": args.seed}
    runs = [await bench_sqlite(options)]
    if args.pg_url:
        runs.append(await bench_postgres(args.pg_url, options))
    print(report(runs))


if __name__ == "__main__":
    asyncio.run(main())
