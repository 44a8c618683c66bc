"""Placing 100,000 accounts into 25 territories, SQLite and PostgreSQL.

    .venv/bin/python bench/place_accounts.py [--accounts 100000] [--territories 25]
        [--engines sqlite,postgres] [--pg-url postgresql://postgres@127.0.0.1:5432]

Target (issue 4): assigning 100,000 accounts to territories in under 2 s.

A fresh migrated database per engine; one org with 25 reps, 25 territories
(resolution-7 cells in a 5 x 5 grid of blocks around Dallas, compacted, one
owner each) inserted directly, and 100,000 accounts spread over them. Timed:

* first placement: every account placed (100,000 placements written, every
  account's holders change: new versions, sync moves and pokes);
* a redraw: one territory gives a block of cells to its neighbour
  (``update_territory`` through the service, as the HTTP route calls it),
  which re-places the org and moves the accounts in that block;
* a no-op re-placement (nothing changed: the read and diff alone).

"assignment alone" is the lookup itself (territory cells indexed, every
account's cell resolved to its territories) without reading or writing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._common import (
    DEFAULT_PG_URL,
    bound_engine,
    temp_pg_database,
    temp_sqlite_url,
)
from server.access.principal import Principal
from server.access.scope import Scope
from server.accounts.tables import Account
from server.db.bulk import insert_rows
from server.db.ids import new_id
from server.db.tx import unit_of_work
from server.geo.cells import compact, latlng_to_cell
from server.geo.placement import CellIndex, live_territories, place_accounts
from server.geo.schemas import TerritoryPatch
from server.geo.tables import Territory, TerritoryOwner
from server.geo.territories import update_territory
from server.orgs.service import create_org
from server.users.service import create_user

LAT0, LNG0, STEP = 32.4, -97.3, 0.12  # blocks of ~13 km


def block_cells(i: int, j: int) -> list[str]:
    cells = set()
    for a in range(12):
        for b in range(12):
            cells.add(latlng_to_cell(LAT0 + (i + a / 12) * STEP, LNG0 + (j + b / 12) * STEP, 7))
    return sorted(cells)


async def setup(n_accounts: int, n_territories: int):
    side = int(n_territories ** 0.5)
    async with unit_of_work():
        org = await create_org(f"Bench {uuid.uuid4().hex[:6]}")
        admin = await create_user(org, email="admin@bench.test", password="x" * 12, full_name="Admin",
                                  role="admin", password_time_cost=1)
        reps = [await create_user(org, email=f"rep{i}@bench.test", password="x" * 12, full_name=f"Rep {i}",
                                  role="rep", password_time_cost=1) for i in range(side * side)]
    # Blocks overlap at their edges (cells are hexagons): each cell goes to the first block that has it.
    taken: set[str] = set()
    territories = []
    for i in range(side):
        for j in range(side):
            cells = [c for c in block_cells(i, j) if c not in taken]
            taken.update(cells)
            territories.append(cells)
    rng = random.Random(1)
    async with unit_of_work():
        ids = []
        for k, cells in enumerate(territories):
            tid = uuid.uuid4()
            ids.append(tid)
            await Territory.insert(Territory(id=tid, org_id=org, name=f"T{k}", cells=compact(cells), resolution=7,
                                             version=1))
            await TerritoryOwner.insert(TerritoryOwner(id=uuid.uuid4(), org_id=org, territory_id=tid,
                                                       user_id=reps[k]))
        rows = []
        for n in range(n_accounts):
            lat, lng = LAT0 + rng.uniform(0, side * STEP), LNG0 + rng.uniform(0, side * STEP)
            rows.append((new_id(), org, f"Account {n}", 1, lat, lng, latlng_to_cell(lat, lng, 9)))
        await insert_rows("accounts", ("id", "org_id", "name", "version", "lat", "lng", "h3_cell"), rows)
    return org, admin, ids, territories


async def run(url: str, args) -> dict:
    async with bound_engine(url):
        org, admin, ids, cells = await setup(args.accounts, args.territories)
        out = {}
        async with unit_of_work():
            territories = await live_territories(org)
        account_cells = [r["h3_cell"] for r in await Account.select(Account.h3_cell).where(Account.org_id == org)]
        t = time.perf_counter()
        index = CellIndex((tid, cells) for tid, cells, _ in territories)
        found = sum(1 for c in account_cells if index.covering(c))
        out[f"assignment alone ({found:,} in a territory)"] = (time.perf_counter() - t, None)
        t = time.perf_counter()
        async with unit_of_work():
            placed = await place_accounts(org)
        out["first placement"] = (time.perf_counter() - t, placed)
        scope = Scope(Principal(user_id=admin, org_id=org, role="admin", session_id=uuid.uuid4()), None, None)
        give = [c for c in cells[0] if c not in cells[0][: len(cells[0]) // 2]]
        t = time.perf_counter()
        async with unit_of_work():
            await update_territory(scope, ids[0], TerritoryPatch(cells=cells[0][: len(cells[0]) // 2]),
                                   overlap_check=False)
            await update_territory(scope, ids[1], TerritoryPatch(cells=sorted(set(cells[1]) | set(give))))
        out["redraw (two territories, service)"] = (time.perf_counter() - t, None)
        t = time.perf_counter()
        async with unit_of_work():
            placed = await place_accounts(org)
        out["no-op re-placement"] = (time.perf_counter() - t, placed)
        total = await Account.count().where(Account.org_id == org)
        out["accounts"] = total
        return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--territories", type=int, default=25)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--pg-url", default=os.environ.get("FIELDSALES_BENCH_PG_URL", DEFAULT_PG_URL))
    args = parser.parse_args()
    print(f"placing {args.accounts:,} accounts into {args.territories} territories (target: first placement < 2 s)")
    for engine in args.engines.split(","):
        if engine == "sqlite":
            with temp_sqlite_url() as url:
                result = await run(url, args)
        else:
            async with temp_pg_database(args.pg_url, "fs_bench_place") as url:
                result = await run(url, args)
        print(f"\n{engine}: {result.pop('accounts'):,} accounts")
        for name, (seconds, placed) in result.items():
            extra = f"  ({placed.opened:,} opened, {placed.closed:,} closed, {placed.moved_accounts:,} moved)" \
                if placed else ""
            print(f"  {name:<36} {seconds * 1000:8.0f} ms{extra}")


if __name__ == "__main__":
    asyncio.run(main())
