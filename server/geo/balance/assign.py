"""Matchings by the Hungarian method: current labels to territories, reps to territories.

Also the capacity of each territory slot: with one rep per territory and unequal
capacities (FTE), slot t is made for the t-th largest capacity, its targets are
proportional to it, and only a rep of that capacity may take it.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from server.geo.balance.graph import EARTH_KM
from server.geo.balance.types import Rep

#: Weight of a locked cell in the label matching: locks decide before account overlap.
LOCK_WEIGHT = 1e9


def match_labels(overlap: np.ndarray, *, keep_zero: bool = False) -> dict[int, int]:
    """label index -> territory index maximising total overlap (labels x territories).
    A pair with no overlap is dropped unless ``keep_zero`` (a locked label needs a home)."""
    if overlap.size == 0:
        return {}
    rows, cols = linear_sum_assignment(-overlap)
    return {int(r): int(c) for r, c in zip(rows, cols, strict=True)
            if keep_zero or overlap[r, c] > 0}


def haversine_km(lat1: np.ndarray, lng1: np.ndarray, lat2: np.ndarray,
                 lng2: np.ndarray) -> np.ndarray:
    la1, lo1, la2, lo2 = map(np.radians, (lat1, lng1, lat2, lng2))
    h = (np.sin((la2 - la1) / 2) ** 2
         + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2)
    return 2 * EARTH_KM * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def slot_capacities(reps: list[Rep], k: int) -> np.ndarray | None:
    """Capacity per territory slot, largest first, or None when targets are equal: no reps,
    not one rep per territory, or every capacity the same."""
    if len(reps) != k or len({float(r.capacity) for r in reps}) <= 1:
        return None
    return np.array(sorted((float(r.capacity) for r in reps), reverse=True))


def assign_reps(reps: list[Rep], lat: np.ndarray, lng: np.ndarray,
                capacity: np.ndarray | None = None) -> list[str | None]:
    """Rep id per territory (None where reps run out), minimising total distance from home
    to the territory's workload centroid. A rep with no home costs, for each territory, the
    average of the reps with one (nothing if nobody has a home): reps with a known home
    are placed on their merits, and one without is not preferred for being unknown.
    With slot capacities (``slot_capacities``), a rep only takes a slot of their own
    capacity: one matching per capacity, each minimising travel."""
    k = len(lat)
    if not reps:
        return [None] * k
    ordered = sorted(reps, key=lambda r: r.id)
    cost = np.zeros((len(ordered), k))
    known = [i for i, r in enumerate(ordered) if r.lat is not None and r.lng is not None]
    for i in known:
        r = ordered[i]
        cost[i] = haversine_km(np.full(k, r.lat), np.full(k, r.lng), lat, lng)
    if known:
        cost[[i for i in range(len(ordered)) if i not in known]] = cost[known].mean(axis=0)
    out: list[str | None] = [None] * k
    if capacity is None:
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols, strict=True):
            out[int(c)] = ordered[int(r)].id
        return out
    caps = np.array([float(r.capacity) for r in ordered])
    for value in sorted(set(capacity.tolist()), reverse=True):
        mine = np.flatnonzero(caps == value)
        slots = np.flatnonzero(capacity == value)
        rows, cols = linear_sum_assignment(cost[np.ix_(mine, slots)])
        for r, c in zip(rows, cols, strict=True):
            out[int(slots[c])] = ordered[int(mine[r])].id
    return out
