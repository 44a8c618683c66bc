"""Accounts near a point through HTTP in a 100,000-account org, SQLite and PostgreSQL.

    .venv/bin/python bench/nearby.py [--engines sqlite,postgres] [--pg-url postgresql://postgres@127.0.0.1:5432]
        [--accounts 100000] [--reps 50] [--days 7] [--requests 500] [--warmup 50] [--concurrency 1,4]

Target (territories issue): ``GET /api/v1/accounts/nearby`` within 2 km, p95 under
20 ms through HTTP among 100,000 accounts.

For each engine: a fresh migrated database (SQLite in a temporary directory;
PostgreSQL ``fs_bench_nearby``, created and dropped here), the demo org loaded,
the real server (``fieldsales serve``) as a subprocess, then per scenario a
warm-up and ``--requests`` requests at 1 and N concurrent clients (httpx). The
points are account locations drawn at random (so they sit where accounts are
dense); a response other than 200 counts as an error. Scenarios: the admin
(whole org) and a rep (own and territory accounts), radius 2 km, limit 50;
the admin with ``not_visited_days=30``; the admin at 10 km (coarser cover).
Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._sync import database, engine_names, fmt, log, stats

PG_DATABASE = "fs_bench_nearby"
TARGET_P95_MS = 20.0


async def http_run(base_url: str, token: str, mix: list[dict], warmup: int, requests: int,
                   concurrency: int) -> dict:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    errors: list[str] = []
    items: list[int] = []
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {token}"},
                                 limits=limits, timeout=30) as client:
        async def phase(n: int, record: bool) -> None:
            counter = iter(range(n))

            async def worker() -> None:
                for i in counter:
                    params = mix[i % len(mix)]
                    t = time.perf_counter()
                    r = await client.get("/api/v1/accounts/nearby", params=params)
                    elapsed = (time.perf_counter() - t) * 1000
                    if r.status_code != 200:
                        errors.append(f"{r.status_code} {r.text[:200]}")
                    elif record:
                        latencies.append(elapsed)
                        items.append(len(r.json()["items"]))

            await asyncio.gather(*(worker() for _ in range(concurrency)))

        await phase(warmup, False)
        await phase(requests, True)
    return {"stats": stats(latencies), "errors": len(errors), "error_samples": errors[:3],
            "items_mean": sum(items) / len(items) if items else 0.0}


async def run_engine(engine_name: str, url: str, args) -> list[str]:
    from bench._common import Server, bound_engine, login
    from server.accounts.tables import Account
    from server.demo import load_demo

    async with bound_engine(url) as engine:
        log(f"{engine_name}: loading the demo org ({args.reps} reps, {args.accounts:,} accounts, {args.days} days)")
        began = time.perf_counter()
        summary = await load_demo(reps=args.reps, accounts=args.accounts, days=args.days, seed=args.seed)
        load_s = time.perf_counter() - began
        if engine_name == "postgres":
            await engine.pool.execute("ANALYZE")
        admin_email = next(e for e, role, _ in summary.logins if role == "admin")
        rep_email = next(e for e, role, _ in summary.logins if role == "rep")
        from server.users.tables import User

        rep = await User.select(User.id).where(User.email == rep_email).first()
        everywhere = await Account.select(Account.lat, Account.lng).where(
            (Account.org_id == summary.org_id) & Account.lat.is_not_null())
        own = await Account.select(Account.lat, Account.lng).where(
            (Account.owner_id == rep["id"]) & Account.lat.is_not_null())
    rng = random.Random(args.seed)

    def mix(points, **extra):
        return [{"lat": p["lat"], "lng": p["lng"], "radius_m": 2000, **extra}
                for p in rng.sample(points, min(200, len(points)))]

    scenarios = [
        ("admin, 2 km (THE TARGET)", "admin", mix(everywhere)),
        ("rep, 2 km, own + territory accounts", "rep", mix(own)),
        ("admin, 2 km, not visited in 30 days", "admin", mix(everywhere, not_visited_days=30)),
        ("admin, 10 km (coarser cover)", "admin", [dict(p, radius_m=10_000) for p in mix(everywhere)]),
    ]
    lines = ["", f"## {engine_name}", "",
             (f"{args.accounts:,} accounts, {args.reps} reps, loaded in {load_s:.1f} s; "
              f"{args.warmup} warm-up + {args.requests} requests per row; "
              "points drawn from account locations"), "",
             "| scenario | clients | p50 ms | p95 ms | p99 ms | items (mean) | errors |", "|---|---|---|---|---|---|---|"]
    with Server(url, extra_env={"FIELDSALES_ACCESS_TOKEN_TTL": "7200"}) as srv:
        tokens = {"admin": login(srv.base_url, admin_email), "rep": login(srv.base_url, rep_email)}
        for name, role, points in scenarios:
            for conc in args.concurrency:
                log(f"{engine_name}: {name}, {conc} client(s)")
                res = await http_run(srv.base_url, tokens[role], points, args.warmup, args.requests, conc)
                s = res["stats"]
                lines.append(f"| {name} | {conc} | {fmt(s['p50'])} | {fmt(s['p95'])} | {fmt(s['p99'])} | "
                             f"{res['items_mean']:.1f} | {res['errors']} |")
                if res["errors"]:
                    lines.append(f"|  errors: {res['error_samples']} | | | | | | |")
    return lines


async def main() -> None:
    from bench._common import DEFAULT_PG_URL, exit_on_sigterm, machine_note

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--concurrency", default="1,4")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-seconds", type=float, default=1800)
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    exit_on_sigterm(args.max_seconds)
    lines = ["# Nearby accounts through HTTP", "", machine_note() + ".",
             f"Target: p95 under {TARGET_P95_MS:.0f} ms within 2 km."]
    for engine_name in engine_names(args):
        async with database(engine_name, args.pg_url, PG_DATABASE) as url:
            lines += await run_engine(engine_name, url, args)
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
