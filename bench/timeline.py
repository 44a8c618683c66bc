"""The customer timeline through HTTP: first page of an account with 2,000 activities, SQLite and PostgreSQL.

    .venv/bin/python bench/timeline.py [--engines sqlite,postgres]
        [--pg-url postgresql://postgres@127.0.0.1:5432] [--requests 500] [--warmup 100]
        [--busy-activities 100000] [--accounts 2000] [--time-cap 600]

Target (issue 5): timeline first page for an account with 2,000 activities,
p95 under 20 ms through HTTP.

For each engine: a fresh migrated database (SQLite in a temporary directory;
PostgreSQL ``fs_bench_timeline``, created and dropped here) holding a busy org
(``--accounts`` accounts owned by 20 reps, ``--busy-activities`` activities
spread over them, a territory of 300 accounts for the measured rep) and a
second org with the same amount of activity. The measured account has 2,000
activities: 1,600 linked to it, 250 to its 5 contacts only, 150 to its 3
opportunities only. Then the plans (SQLite ``EXPLAIN QUERY PLAN``,
PostgreSQL ``EXPLAIN ANALYZE``) and, through the real server
(``fieldsales serve``, one worker, a subprocess), serial requests on one
keep-alive connection per scenario: warm-up, then ``--requests`` timed
requests. Every answer must be 200 with the expected number of items.

Progress goes to stderr, the report to stdout. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from piccolo.querystring import QueryString

from bench._common import (
    DEFAULT_PG_URL,
    Server,
    bound_engine,
    exit_on_sigterm,
    login,
    machine_note,
)
from bench._sync import database, fmt, log, stats
from server.access.principal import Principal
from server.access.scope import Scope
from server.accounts.tables import Account, Contact
from server.common.time import utcnow
from server.comms import timeline
from server.comms.tables import ACTIVITY_TYPES, Activity
from server.db.engine import current_engine, is_sqlite
from server.db.ids import new_id
from server.db.tx import unit_of_work
from server.geo.tables import Territory, TerritoryAccount, TerritoryOwner
from server.orgs.service import create_org
from server.pipeline.tables import Opportunity
from server.users.service import create_user

PG_DATABASE = "fs_bench_timeline"
PASSWORD = "bench-password-1"
TARGET_P95_MS = 20.0
TARGET_ACTIVITIES = {"account": 1600, "contact": 250, "opportunity": 150}
CHUNK = 500  # PostgreSQL: at most 32,767 parameters a statement


class Seeded:
    org: uuid.UUID
    admin: tuple[uuid.UUID, str]
    rep: tuple[uuid.UUID, str]
    account: uuid.UUID
    contact: uuid.UUID


async def _users(org: uuid.UUID, n_reps: int, tag: str) -> tuple[tuple, tuple, list[uuid.UUID]]:
    async with unit_of_work():
        admin_email = f"admin-{tag}@bench.example"
        admin = await create_user(org, email=admin_email, password=PASSWORD, full_name="Admin",
                                  role="admin", password_time_cost=1)
        manager = await create_user(org, email=f"manager-{tag}@bench.example", password=PASSWORD,
                                    full_name="Manager", role="manager", password_time_cost=1)
        reps = []
        for i in range(n_reps):
            reps.append(await create_user(org, email=f"rep{i}-{tag}@bench.example", password=PASSWORD,
                                          full_name=f"Rep {i}", role="rep", manager_id=manager,
                                          password_time_cost=1))
    return (admin, admin_email), (reps[0], f"rep0-{tag}@bench.example"), reps


async def _insert(table, rows: list[dict]) -> None:
    for i in range(0, len(rows), CHUNK):
        async with unit_of_work():
            await table.insert(*[table(**r) for r in rows[i:i + CHUNK]])


def _activity(rng: random.Random, org: uuid.UUID, rep: uuid.UUID, version: int, **links) -> dict:
    now = utcnow()
    kind = rng.choice(ACTIVITY_TYPES)
    occurred = now - timedelta(minutes=rng.randint(1, 60 * 24 * 360))
    row = {"id": new_id(), "org_id": org, "version": version, "rep_id": rep, "type": kind,
           "occurred_at": occurred, "received_at": occurred, "subject": f"{kind} #{version}",
           "body": "Discussed the quarterly order and next steps." if kind in ("note", "email") else None,
           "created_at": now, "updated_at": now, **links}
    if kind == "visit":
        row.update(lat=41.8 + rng.random() / 10, lng=-87.6 - rng.random() / 10, accuracy_m=15.0,
                   verification="verified", distance_m=rng.random() * 80, outcome="met")
    return row


async def seed_org(rng: random.Random, tag: str, n_accounts: int, n_activities: int) -> Seeded:
    async with unit_of_work():
        org = await create_org(f"Bench {tag}")
    admin, rep, reps = await _users(org, 20, tag)
    accounts = [{"id": new_id(), "org_id": org, "name": f"Account {i}", "owner_id": reps[i % len(reps)],
                 "version": i + 1} for i in range(n_accounts)]
    await _insert(Account, accounts)
    target = accounts[0]["id"]  # owned by rep 0
    contacts = [{"id": new_id(), "org_id": org, "account_id": a["id"], "owner_id": a["owner_id"],
                 "first_name": "C", "last_name": str(i), "version": 1}
                for i, a in enumerate(accounts) for _ in range(5 if a["id"] == target else 2)]
    deals = [{"id": new_id(), "org_id": org, "account_id": a["id"], "owner_id": a["owner_id"],
              "name": f"Deal {i}", "version": 1}
             for i, a in enumerate(accounts) for _ in range(3 if a["id"] == target else 1)]
    await _insert(Contact, contacts)
    await _insert(Opportunity, deals)
    # A territory of 300 other accounts for rep 0, so the rep's scope has its territory part.
    async with unit_of_work():
        territory = new_id()
        await Territory.insert(Territory(id=territory, org_id=org, name="North", version=1))
        await TerritoryOwner.insert(TerritoryOwner(id=new_id(), org_id=org, territory_id=territory,
                                                   user_id=rep[0]))
    await _insert(TerritoryAccount, [{"id": new_id(), "org_id": org, "territory_id": territory,
                                      "account_id": a["id"]} for a in accounts[1:301]])
    version = n_accounts + 10
    rows = []
    for _ in range(n_activities):  # the busy org around the measured account
        a = rng.choice(accounts[1:])
        version += 1
        rows.append(_activity(rng, org, rng.choice(reps), version, account_id=a["id"]))
    mine_contacts = [c["id"] for c in contacts if c["account_id"] == target]
    mine_deals = [d["id"] for d in deals if d["account_id"] == target]
    for link, n in TARGET_ACTIVITIES.items():
        for _ in range(n):
            version += 1
            who = reps[0] if rng.random() < 0.6 else rng.choice(reps)
            value = {"account": target, "contact": rng.choice(mine_contacts),
                     "opportunity": rng.choice(mine_deals)}[link]
            rows.append(_activity(rng, org, who, version, **{f"{link}_id": value}))
    rng.shuffle(rows)
    await _insert(Activity, rows)
    out = Seeded()
    out.org, out.admin, out.rep, out.account, out.contact = org, admin, rep, target, mine_contacts[0]
    return out


async def explain(s: Seeded) -> list[str]:
    """The plan of the account page query, as the admin and as the rep see it."""
    lines = []
    for who, (user_id, _), role in (("admin", s.admin, "admin"), ("rep", s.rep, "rep")):
        scope = await Scope.build(Principal(user_id=user_id, org_id=s.org, role=role, session_id=uuid.uuid4()))
        contacts, deals = await timeline._account_links(s.org, s.account)
        query = timeline.account_query(timeline._common(scope, timeline.TimelineFilter(), None),
                                       s.account, contacts, deals, 51)
        engine = current_engine()
        prefix = "EXPLAIN QUERY PLAN " if is_sqlite() else "EXPLAIN (ANALYZE, COSTS OFF, BUFFERS OFF) "
        rows = await engine.run_querystring(QueryString(prefix + "{}", query))
        lines.append(f"-- {who}")
        if is_sqlite():
            lines += [f"{r['id']:>3} {r['parent']:>3} {r['detail']}" for r in rows]
        else:
            lines += [r["QUERY PLAN"] for r in rows]
    return lines


def measure(base_url: str, token: str, path: str, params: dict, expected: int, warmup: int,
            requests: int) -> dict:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as c:
        for _ in range(warmup):
            c.get(path, params=params).raise_for_status()
        times = []
        for _ in range(requests):
            began = time.perf_counter()
            r = c.get(path, params=params)
            times.append((time.perf_counter() - began) * 1000)
            if r.status_code != 200 or (expected is not None and len(r.json()["items"]) != expected):
                raise RuntimeError(f"{path} {params}: {r.status_code} {r.text[:200]}")
    return stats(times)


async def run_engine(engine: str, args) -> list[str]:
    out = [f"## {engine}"]
    async with database(engine, args.pg_url, PG_DATABASE) as url:
        async with bound_engine(url):
            rng = random.Random(5)
            began = time.perf_counter()
            s = await seed_org(rng, "a", args.accounts, args.busy_activities)
            await seed_org(rng, "b", args.accounts, args.busy_activities)  # another org, as busy
            if not is_sqlite():
                await current_engine().run_ddl("ANALYZE")
            total = await Activity.count()
            log(f"{engine}: seeded {total} activities in {time.perf_counter() - began:.1f} s")
            out.append(f"{total} activities in 2 orgs; the measured account has "
                       f"{sum(TARGET_ACTIVITIES.values())} (1,600 direct, 250 via 5 contacts, 150 via 3 deals)")
            out += ["", "```", *await explain(s), "```", ""]
        with Server(url) as server:
            admin_token = login(server.base_url, s.admin[1], PASSWORD)
            rep_token = login(server.base_url, s.rep[1], PASSWORD)
            acct = f"/api/v1/accounts/{s.account}/timeline"
            with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {admin_token}"}) as c:
                cursor = None
                for _ in range(10):
                    cursor = c.get(acct, params={"limit": 50, **({"cursor": cursor} if cursor else {})}
                                   ).json()["next_cursor"]
            scenarios = [
                ("admin, account, first page (50)", admin_token, acct, {}, 50),
                ("rep, account, first page (50)", rep_token, acct, {}, 50),
                ("admin, account, type=call,visit", admin_token, acct, {"type": "call,visit"}, 50),
                ("admin, account, 11th page", admin_token, acct, {"cursor": cursor}, 50),
                ("admin, account, limit=200", admin_token, acct, {"limit": 200}, 200),
                ("admin, contact, first page", admin_token, f"/api/v1/contacts/{s.contact}/timeline", {}, None),
            ]
            out.append("| scenario | n | p50 ms | p95 ms | p99 ms | max ms |")
            out.append("|---|---|---|---|---|---|")
            for name, token, path, params, expected in scenarios:
                st = measure(server.base_url, token, path, params, expected, args.warmup, args.requests)
                out.append(f"| {name} | {st['n']} | {fmt(st['p50'], 2)} | {fmt(st['p95'], 2)} | "
                           f"{fmt(st['p99'], 2)} | {fmt(st['max'], 2)} |")
                log(f"{engine}: {name}: p50 {st['p50']:.2f} ms, p95 {st['p95']:.2f} ms")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--engines", default="sqlite,postgres")
    p.add_argument("--pg-url", default=DEFAULT_PG_URL)
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--accounts", type=int, default=2000)
    p.add_argument("--busy-activities", type=int, default=100_000)
    p.add_argument("--time-cap", type=float, default=600)
    args = p.parse_args()
    exit_on_sigterm(args.time_cap)
    report = [f"# Timeline benchmark (target: account first page p95 < {TARGET_P95_MS:g} ms through HTTP)",
              machine_note(), "serial requests, one keep-alive connection, one server worker", ""]
    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
        report += asyncio.run(run_engine(engine, args)) + [""]
    print("\n".join(report))


if __name__ == "__main__":
    main()
