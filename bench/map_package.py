"""The offline map package of one big territory: build time and gzipped size of both parts.

    .venv/bin/python bench/map_package.py [--cells 5000] [--accounts 2000] [--runs 20] [--seed 42]

Target (territories issue): a territory of 5,000 cells and 2,000 accounts, package
(geometry + figures) built in under 50 ms and under 200 KB gzipped.

A fresh migrated SQLite database in a temporary directory holds one org, one
territory of ``--cells`` resolution-7 cells (a disk around Chicago, stored
compacted) and ``--accounts`` accounts at random points inside it, placed in
it, with potential and visits this month on a third of them. Measured in
process, serially (median and max of ``--runs``):

* geometry: reading the cells and building the part (outline included), the
  per-process cache cleared before every run, then served from the cache;
* figures: the grouped reads and the canonical body (``compute_figures``),
  storing it, and serving the stored part;
* the ETag check alone (the 304 path);
* sizes raw and gzipped at level 4, the app's compression level.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import random
import statistics
import sys
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import bound_engine, machine_note, temp_sqlite_url

CENTRE = (41.8781, -87.6298)
TARGET_MS, TARGET_KB = 50.0, 200.0
GZIP_LEVEL = 4  # server/app.py CompressionConfig


def ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples):6.2f} ms, max {max(samples):6.2f} ms"


async def load(args) -> tuple:
    from server.access.principal import Principal
    from server.access.scope import Scope
    from server.accounts.tables import Account
    from server.common.location import point_columns
    from server.common.time import utcnow
    from server.comms.tables import Activity
    from server.db.bulk import insert_rows
    from server.db.ids import new_id
    from server.db.tx import unit_of_work
    from server.geo.cells import cell_to_latlng, compact, disk, latlng_to_cell
    from server.geo.tables import Territory, TerritoryAccount, TerritoryOwner
    from server.orgs.service import create_org
    from server.users.service import create_user

    rng = random.Random(args.seed)
    cells = disk(latlng_to_cell(*CENTRE, 7), 45)[: args.cells]
    async with unit_of_work():
        org = await create_org("Bench maps")
        rep = await create_user(org, email="rep@bench.example", password="bench-password", full_name="Rep",
                                role="rep", password_time_cost=1)
    now = utcnow()
    territory_id = new_id()
    async with unit_of_work():
        await Territory.insert(Territory(id=territory_id, org_id=org, name="Chicago", cells=compact(cells),
                                         resolution=7, version=1))
        await TerritoryOwner.insert(TerritoryOwner(id=new_id(), org_id=org, territory_id=territory_id,
                                                   user_id=rep))
    accounts, placed, visits = [], [], []
    for i in range(args.accounts):
        lat, lng = cell_to_latlng(rng.choice(cells))
        lat, lng = lat + rng.uniform(-0.005, 0.005), lng + rng.uniform(-0.005, 0.005)
        account_id = new_id()
        accounts.append({"id": account_id, "org_id": org, "name": f"Account {i}", "owner_id": rep,
                         "status": "customer", **point_columns(lat, lng), "version": 1,
                         "potential": Decimal(rng.randrange(1_000, 500_000)) / 100, "created_at": now,
                         "updated_at": now})
        placed.append({"id": new_id(), "org_id": org, "territory_id": territory_id, "account_id": account_id})
        if i % 3 == 0:
            visits.append({"id": new_id(), "org_id": org, "rep_id": rep, "type": "visit", "direction": "out",
                           "occurred_at": now - timedelta(minutes=i % 500), "received_at": now,
                           "account_id": account_id, "version": 1, "created_at": now, "updated_at": now})
    async with unit_of_work():
        for table, rows in ((Account, accounts), (TerritoryAccount, placed), (Activity, visits)):
            columns = tuple(rows[0])
            await insert_rows(table._meta.tablename, columns, [tuple(r[c] for c in columns) for r in rows])
    scope = await Scope.build(Principal(user_id=rep, org_id=org, role="rep", session_id=uuid.uuid4()))
    return org, territory_id, scope, len(compact(cells))


async def measure(args) -> list[str]:
    from server.db.tx import unit_of_work
    from server.geo import mapkit

    org, territory_id, scope, stored = await load(args)
    geometry_cold, geometry_warm, check = [], [], []
    for _ in range(args.runs):
        mapkit._geometry_cache.clear()
        t = time.perf_counter()
        geometry = await mapkit.territory_geometry(scope, territory_id)
        geometry_cold.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        await mapkit.territory_geometry(scope, territory_id)
        geometry_warm.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        assert (await mapkit.territory_geometry(scope, territory_id, {geometry.etag})).body is None
        check.append((time.perf_counter() - t) * 1000)
    compute, store, serve = [], [], []
    for _ in range(args.runs):
        t = time.perf_counter()
        bodies = await mapkit.compute_figures(org, [territory_id])
        compute.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        async with unit_of_work():
            await mapkit.store_figures(org, bodies)
        store.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        figures = await mapkit.territory_figures(scope, territory_id)
        serve.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    job_rows = await mapkit.refresh_figures(org)
    job_ms = (time.perf_counter() - t) * 1000

    g_raw, f_raw = geometry.body, figures.body
    g_zip, f_zip = len(gzip.compress(g_raw, GZIP_LEVEL)), len(gzip.compress(f_raw, GZIP_LEVEL))
    built = statistics.median(geometry_cold) + statistics.median(compute)
    total_kb = (g_zip + f_zip) / 1024
    figures_cells = f_raw.count(b'"cell":')
    return [
        "# Offline map package: one territory", "", machine_note() + ".", "",
        (f"territory: {args.cells:,} resolution-7 cells ({stored:,} stored compacted), {args.accounts:,} "
         f"accounts placed in it, {figures_cells:,} resolution-9 cells in the figures; SQLite; "
         f"{args.runs} runs each"), "",
        f"geometry, built (cells read, outline drawn, encoded): {ms(geometry_cold)}",
        f"geometry, served from the per-process cache:          {ms(geometry_warm)}",
        f"geometry, ETag check only (the 304 path):            {ms(check)}",
        f"figures, computed (grouped reads + canonical body):  {ms(compute)}",
        f"figures, stored (upsert, one transaction):           {ms(store)}",
        f"figures, served as stored:                           {ms(serve)}",
        f"figures job for the org (nothing changed, {job_rows} rows written): {job_ms:.2f} ms",
        "",
        f"geometry: {len(g_raw) / 1024:7.1f} KB raw, {g_zip / 1024:6.1f} KB gzipped",
        f"figures:  {len(f_raw) / 1024:7.1f} KB raw, {f_zip / 1024:6.1f} KB gzipped",
        "",
        (f"package built (geometry built + figures computed, medians): {built:.1f} ms "
         f"(target < {TARGET_MS:.0f} ms: {'met' if built < TARGET_MS else 'MISSED'})"),
        (f"package gzipped: {total_kb:.1f} KB (target < {TARGET_KB:.0f} KB: "
         f"{'met' if total_kb < TARGET_KB else 'MISSED'})"),
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=5_000)
    parser.add_argument("--accounts", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    with temp_sqlite_url("map_package.sqlite3") as url:
        async with bound_engine(url):
            lines = await measure(args)
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
