"""Primary territories: each metro's resolution-7 cells split among its reps.

The split is a recursive bisection: cut the metro's cells along their longer
axis at the point where the account counts on each side match the reps'
combined capacity on that side, and recurse. Territories come out compact and
balanced, and never overlap because each cell goes to exactly one rep. One
ring of empty neighbour cells is then added around each territory so the map
has no pin-holes and leads just beside an account still fall inside.
"""

from __future__ import annotations

import math
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from piccolo.utils.encoding import dump_json

from server.demo.geography import (
    KM_PER_DEG_LAT,
    KM_PER_DEG_LNG_EQUATOR,
    Metro,
    compass,
    distance_km,
    offset,
)
from server.demo.ids import DeterministicIds
from server.demo.people import Staff
from server.demo.records import Person, Rows, Site
from server.demo.timeline import Timeline
from server.geo.cells import cell_to_latlng, cell_to_parent, compact, disk

TERRITORY_RESOLUTION = 7


@dataclass
class Territory:
    id: uuid.UUID
    rep: Person
    name: str
    cells: set[str] = field(default_factory=set)
    sites: list[Site] = field(default_factory=list)


def bisect(items: list[tuple[str, float, float, int]], reps: list[Person]) -> list[list[str]]:
    """Cells (cell, lat, lng, weight) for each rep, in ``reps`` order."""
    if len(reps) == 1:
        return [[cell for cell, *_ in items]]
    if not items:
        return [[] for _ in reps]
    half = len(reps) // 2
    left, right = reps[:half], reps[half:]
    lats, lngs = [i[1] for i in items], [i[2] for i in items]
    lat_span = (max(lats) - min(lats)) * KM_PER_DEG_LAT
    lng_span = (max(lngs) - min(lngs)) * KM_PER_DEG_LNG_EQUATOR * math.cos(math.radians(lats[0]))
    axis = 1 if lat_span >= lng_span else 2
    ordered = sorted(items, key=lambda i: (i[axis], i[0]))
    share = sum(r.capacity for r in left) / sum(r.capacity for r in reps)
    target = sum(i[3] for i in items) * share
    # Each side keeps at least one cell per rep when there are enough cells.
    lo = min(len(left), len(ordered))
    hi = max(lo, len(ordered) - len(right))
    best_k, best_gap, running = lo, math.inf, sum(i[3] for i in ordered[:lo])
    for k in range(lo, hi + 1):
        gap = abs(running - target)
        if gap < best_gap:
            best_k, best_gap = k, gap
        if k < len(ordered):
            running += ordered[k][3]
    return bisect(ordered[:best_k], left) + bisect(ordered[best_k:], right)


def assign_territories(rng: random.Random, ids: DeterministicIds, metros: list[Metro], staff: Staff,
                       sites: list[Site], tl: Timeline) -> list[Territory]:
    """Give every site an owner and a territory; give every rep a home."""
    by_cell: dict[str, list[Site]] = {}
    for s in sites:
        by_cell.setdefault(cell_to_parent(s.cell, TERRITORY_RESOLUTION), []).append(s)
    per_metro: dict[int, list[tuple[str, float, float, int]]] = {m: [] for m in range(len(metros))}
    for cell in sorted(by_cell):
        lat, lng = cell_to_latlng(cell)
        # The nearest centre wins, so metros can never claim the same cell.
        m = min(range(len(metros)),
                key=lambda i: distance_km(lat, lng, metros[i].centre.lat, metros[i].centre.lng))
        per_metro[m].append((cell, lat, lng, len(by_cell[cell])))

    owner: dict[str, int] = {}  # res-7 cell -> rep index
    rep_index = {id(r): i for i, r in enumerate(staff.reps)}
    for m, items in per_metro.items():
        reps = [r for r in staff.reps if r.metro == m]
        for rep, cells in zip(reps, bisect(items, reps)):
            for cell in cells:
                owner[cell] = rep_index[id(rep)]
    _add_ring(owner)

    effective = tl.start - timedelta(days=7)
    territories = [Territory(ids.uuid7(effective), rep, "") for rep in staff.reps]
    for cell, i in owner.items():
        territories[i].cells.add(cell)
    for cell, cell_sites in by_cell.items():
        t = territories[owner[cell]]
        for s in cell_sites:
            s.owner = t.rep
            t.sites.append(s)
    _name_and_house(rng, metros, territories)
    return territories


def _add_ring(owner: dict[str, int]) -> None:
    votes: dict[str, Counter] = {}
    for cell in sorted(owner):
        for near in disk(cell, 1):
            if near not in owner:
                votes.setdefault(near, Counter())[owner[cell]] += 1
    for near in sorted(votes):
        counts = votes[near]
        owner[near] = min(counts, key=lambda i: (-counts[i], i))


def _name_and_house(rng: random.Random, metros: list[Metro], territories: list[Territory]) -> None:
    seen: Counter = Counter()
    for t in territories:
        centre = metros[t.rep.metro].centre
        if t.sites:
            lat = sum(s.lat for s in t.sites) / len(t.sites)
            lng = sum(s.lng for s in t.sites) / len(t.sites)
        else:
            lat, lng = centre.lat, centre.lng
        base = f"{centre.name} {compass(centre.lat, centre.lng, lat, lng)}"
        seen[base] += 1
        t.name = base if seen[base] == 1 else f"{base} {seen[base]}"
        # Reps live near the middle of their patch.
        home = offset(lat, lng, rng.gauss(0.0, 1.5), rng.gauss(0.0, 1.5))
        t.rep.home = (round(home[0], 6), round(home[1], 6))


def territory_rows(ids: DeterministicIds, org_id: uuid.UUID, territories: list[Territory],
                   tl: Timeline) -> list[Rows]:
    effective = tl.start - timedelta(days=7)
    rows = Rows("territories", (
        "id", "org_id", "created_at", "updated_at", "name", "layer", "overlay", "region_id",
        "cells", "resolution", "effective_from",
    ))
    owners = Rows("territory_owners", ("id", "org_id", "territory_id", "user_id", "role",
                                       "valid_from"))
    links = Rows("territory_accounts", ("id", "org_id", "territory_id", "account_id",
                                        "valid_from"))
    for t in territories:
        # Stored compacted, serialised the way Piccolo's JSON column serialises.
        rows.rows.append((t.id, org_id, effective, effective, t.name, "primary", False,
                          t.rep.region_id, dump_json(compact(sorted(t.cells))),
                          TERRITORY_RESOLUTION, effective))
        owners.rows.append((ids.uuid7(effective), org_id, t.id, t.rep.id, "primary", effective))
        for s in sorted(t.sites, key=lambda s: s.id):
            since = max(effective, s.created_at)
            links.rows.append((ids.uuid7(since), org_id, t.id, s.id, since))
    return [rows, owners, links]
