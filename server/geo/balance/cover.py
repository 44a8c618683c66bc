"""The working cells: a mixed-resolution cover, coarse in empty land and fine in dense cores.

A cell is *heavy* when it holds more than ``REFINE_SHARE`` of a territory's mean
workload or potential. Heavy cells are split into their seven children (empty
children included, so the covered area never changes) until no cell is heavy
or the cell is at the account resolution (9): what is left heavy there is a
lump, reported, never split. With a current plan, a cell holding accounts of
several current territories is split the same way, so keeping the current
plan (a disruption budget) is possible down to the account cell. With a region, the region's cells are the cover
(their own resolutions kept, heavy ones split). Without one, the cover is the
demands' parents at the coarsest resolution where every heavy cell holds a
lump, then refined the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import h3
import numpy as np

from server.geo.balance.types import BalanceError, BalanceInput
from server.geo.cells import (
    MAX_TERRITORY_RESOLUTION,
    MIN_TERRITORY_RESOLUTION,
    POINT_RESOLUTION,
    _drop_covered,  # the one rule for "a cell inside another of the set": reused, not copied
    is_valid_cell,
)

#: A cell holding more than this share of a territory's mean workload (or potential) is split.
REFINE_SHARE = 0.10
_RESOLUTIONS = range(MIN_TERRITORY_RESOLUTION, MAX_TERRITORY_RESOLUTION + 1)


@dataclass(frozen=True)
class Cover:
    cells: list[str]  # sorted; index = vertex id everywhere else
    res: np.ndarray  # resolution per cell
    workload: np.ndarray
    potential: np.ndarray
    accounts: np.ndarray  # demands per cell
    lat: np.ndarray  # demand-weighted centre (the cell's centre when empty)
    lng: np.ndarray
    lock: list[str | None]  # label a cell is locked to
    demand_cell: np.ndarray  # per demand: its cell index, -1 outside the region
    points: list[str]  # per demand: its resolution-9 cell, canonical
    outside: int
    point_weights: dict[str, tuple[float, float, int]]  # resolution-9 cell -> (w, p, n)


def canonical(cell: object, what: str, resolutions: Iterable[int]) -> str:
    if (isinstance(cell, str) and cell[:1] != "0" and cell == cell.lower()
            and h3.is_valid_cell(cell) and h3.get_resolution(cell) in resolutions):
        return cell  # already h3's own spelling (lower-case hex, no 0x, no leading zero)
    if not is_valid_cell(cell):
        raise BalanceError("invalid_cell", f"{what}: not an H3 cell: {cell!r}")
    canon = h3.int_to_str(h3.str_to_int(cell))
    if h3.get_resolution(canon) not in resolutions:
        raise BalanceError("invalid_cell", f"{what}: {canon} has resolution "
                           f"{h3.get_resolution(canon)}, expected {min(resolutions)}.."
                           f"{max(resolutions)}")
    return canon


def _check_parameters(inp: BalanceInput) -> None:
    def number(v: object) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    checks = [
        ("workload_tolerance", inp.workload_tolerance, lambda v: number(v) and v > 0),
        ("potential_tolerance", inp.potential_tolerance, lambda v: number(v) and v > 0),
        ("gap_cap_km", inp.gap_cap_km, lambda v: number(v) and v > 0),
        ("starts", inp.starts, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1),
        ("disruption_budget", inp.disruption_budget,
         lambda v: v is None or (number(v) and 0 <= v <= 1)),
        ("seed", inp.seed, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0),
    ]
    checks += [(f"reps[{i}].capacity ({r.id!r})", r.capacity, lambda v: number(v) and v > 0)
               for i, r in enumerate(inp.reps)]
    for name, value, ok in checks:
        if not ok(value):
            raise BalanceError("invalid_parameter", f"{name} is out of range: {value!r}")


def _demand_points(inp: BalanceInput) -> list[str]:
    """Each demand's canonical resolution-9 cell, after checking ids, figures and cells
    (in bulk: a check per distinct cell, numpy for the figures)."""
    demands = inp.demands
    ids = [d.id for d in demands]
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        dup = next(i for i in ids if i in seen or seen.add(i))
        raise BalanceError("invalid_demand", f"duplicate account id {dup!r}")
    for name in ("workload", "potential"):
        values = [getattr(d, name) for d in demands]
        try:
            arr = np.array(values, dtype=float)
            ok = all(type(v) in (int, float) for v in values) and bool(
                np.all(np.isfinite(arr) & (arr >= 0)))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            bad = next(d for d, v in zip(demands, values, strict=True)
                       if type(v) not in (int, float) or not math.isfinite(v) or v < 0)
            raise BalanceError("invalid_demand", f"demand {bad.id!r}: {name} must be a finite "
                               f"number >= 0, got {getattr(bad, name)!r}")
    known: dict[object, str] = {}
    for d in demands:
        if d.cell not in known:
            known[d.cell] = canonical(d.cell, f"demand {d.id!r}", (POINT_RESOLUTION,))
    return [known[d.cell] for d in demands]


def bulk_parent(cells: np.ndarray, res: int) -> np.ndarray:
    """Parents at ``res`` of many H3 indexes (uint64) at once, as H3's cellToParent computes
    them: the resolution field set to ``res``, the digits of finer resolutions set to 7.
    ``server.geo.cells.cell_to_parent`` does one string at a time; 10^5 accounts need bulk."""
    fill = np.uint64((1 << (3 * (15 - res))) - 1)
    return (cells | fill) & ~np.uint64(0xF << 52) | np.uint64(res << 52)


class _Weights:
    """Workload, potential and accounts of every cell at resolutions 4..9 holding accounts."""

    def __init__(self, fine: np.ndarray, w: np.ndarray, p: np.ndarray, n: np.ndarray,
                 coarsest: int) -> None:
        self.by_res: dict[int, dict[int, tuple[float, float, int]]] = {
            r: {} for r in _RESOLUTIONS}
        for r in range(coarsest, POINT_RESOLUTION + 1):
            keys, inv = np.unique(bulk_parent(fine, r), return_inverse=True)
            self.by_res[r] = dict(zip(keys.tolist(), zip(
                np.bincount(inv, weights=w).tolist(), np.bincount(inv, weights=p).tolist(),
                np.bincount(inv, weights=n).astype(int).tolist(), strict=True), strict=True))


def _mixed_labels(inp: BalanceInput, inv: np.ndarray, inside: np.ndarray,
                  fine: np.ndarray) -> set[int]:
    """Cells (as ints, any resolution 4..8) holding accounts of more than one current
    territory: split like heavy cells, so the current plan can be kept where it is good."""
    if not inp.current:
        return set()
    names = sorted(set(inp.current.values()))
    code = {x: i for i, x in enumerate(names)}
    label = np.array([code.get(inp.current.get(d.id), -1) for d in inp.demands], dtype=np.int64)
    fine_of = np.full(len(inside), -1, dtype=np.int64)
    fine_of[np.flatnonzero(inside)] = np.arange(int(inside.sum()))
    keep = (label >= 0) & (fine_of[inv] >= 0)
    cells, labels = fine[fine_of[inv[keep]]], label[keep]
    out: set[int] = set()
    for r in range(MIN_TERRITORY_RESOLUTION, POINT_RESOLUTION):
        pairs = np.unique(np.column_stack((bulk_parent(cells, r), labels.astype(np.uint64))),
                          axis=0)
        keys, counts = np.unique(pairs[:, 0], return_counts=True)
        out.update(keys[counts > 1].tolist())
    return out


def _owners(fine: np.ndarray, members: list[str]) -> np.ndarray:
    """Per fine cell: the index in ``members`` (sorted) of the member holding it, or -1."""
    owner = np.full(len(fine), -1, dtype=np.int64)
    ints = np.array([h3.str_to_int(c) for c in members], dtype=np.uint64)
    res = np.array([h3.get_resolution(c) for c in members], dtype=np.int64)
    for r in sorted(set(res.tolist())):
        idx = np.flatnonzero(res == r)
        keys = ints[idx]
        order = np.argsort(keys)
        keys, idx = keys[order], idx[order]
        par = bulk_parent(fine, r)
        pos = np.minimum(np.searchsorted(keys, par), len(keys) - 1)
        hit = keys[pos] == par
        owner[hit] = idx[pos[hit]]
    return owner


def _ancestor_in(cell: str, members: set[str], resolutions: list[int]) -> str | None:
    res = h3.get_resolution(cell)
    for r in resolutions:
        if r <= res and (a := h3.cell_to_parent(cell, r)) in members:
            return a
    return None


def build_cover(inp: BalanceInput) -> Cover:
    k = inp.territories
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise BalanceError("too_many_territories", f"territories must be at least 1, got {k!r}")
    _check_parameters(inp)
    points = _demand_points(inp)
    region = None
    if inp.region is not None:
        region = {canonical(c, "region", _RESOLUTIONS) for c in inp.region}
        if len({h3.get_resolution(c) for c in region}) > 1:
            region = _drop_covered(region, list(_RESOLUTIONS))
        if not region:
            raise BalanceError("empty_region", "the region holds no cells")
    elif not points:
        raise BalanceError("empty_region", "no demands and no region: nothing to balance")
    locks = {canonical(c, "locked", _RESOLUTIONS): label for c, label in inp.locked.items()}
    for cell, label in locks.items():
        if not isinstance(label, str) or not label:
            raise BalanceError("invalid_lock", f"locked cell {cell}: label must be a non-empty string")
    lock_res = sorted({h3.get_resolution(c) for c in locks})
    for cell, label in locks.items():
        if (outer := _ancestor_in(cell, set(locks) - {cell}, lock_res)) is not None \
                and locks[outer] != label:
            raise BalanceError("invalid_lock", f"{cell} is locked to {label!r} but lies "
                               f"inside {outer}, locked to {locks[outer]!r}")

    uniq, inv = np.unique(points, return_inverse=True)
    fine = np.array([h3.str_to_int(c) for c in uniq.tolist()], dtype=np.uint64)
    dw = np.array([d.workload for d in inp.demands], dtype=float)
    dp = np.array([d.potential for d in inp.demands], dtype=float)
    inside = np.ones(len(uniq), dtype=bool)
    if region is not None:
        inside = _owners(fine, sorted(region)) >= 0
    keep = inside[inv] if len(points) else np.zeros(0, dtype=bool)
    fw = np.bincount(inv[keep], weights=dw[keep], minlength=len(uniq))
    fp = np.bincount(inv[keep], weights=dp[keep], minlength=len(uniq))
    fn = np.bincount(inv[keep], minlength=len(uniq))
    fine, fw, fp, fn, fine_cells = fine[inside], fw[inside], fp[inside], fn[inside], uniq[inside]
    # only resolutions a cover cell can have: from the region's coarsest (or 4) down to 9
    agg = _Weights(fine, fw, fp, fn, min(h3.get_resolution(c) for c in region)
                   if region is not None else MIN_TERRITORY_RESOLUTION)
    cap_w, cap_p = REFINE_SHARE * fw.sum() / k, REFINE_SHARE * fp.sum() / k

    mixed = _mixed_labels(inp, inv, inside, fine)

    if region is None:
        lumps = fine[(fw > cap_w) & (cap_w > 0) | (fp > cap_p) & (cap_p > 0)]
        start = fine_cells.tolist()
        for r in _RESOLUTIONS:
            level = agg.by_res[r]
            lumpy = set(bulk_parent(lumps, r).tolist())
            if all(c in lumpy for c, v in level.items() if v[0] > cap_w > 0 or v[1] > cap_p > 0):
                start = _fill_holes([h3.int_to_str(c) for c in level])
                break
    else:
        start = list(region)

    lock_cells = set(locks)
    lock_anc = {h3.cell_to_parent(c, r) for c in locks for r in _RESOLUTIONS
                if r < h3.get_resolution(c)}
    cover: list[str] = []
    stack = [(c, h3.get_resolution(c)) for c in sorted(start, reverse=True)]
    by_res = agg.by_res
    while stack:
        cell, r = stack.pop()
        if r < POINT_RESOLUTION:
            v = by_res[r].get(h3.str_to_int(cell))
            if (v is not None and (v[0] > cap_w > 0 or v[1] > cap_p > 0 or h3.str_to_int(cell) in mixed)) \
                    or cell in lock_anc:
                stack.extend((c, r + 1) for c in h3.cell_to_children(cell, r + 1))
                continue
        cover.append(cell)
    while len(cover) < k and any(h3.get_resolution(c) < POINT_RESOLUTION for c in cover):
        # more territories than cells: split everything once more
        cover = [ch for c in cover for ch in ([c] if h3.get_resolution(c) == POINT_RESOLUTION
                                              else h3.cell_to_children(c, h3.get_resolution(c) + 1))]
    cover.sort()
    if len(cover) < k:
        raise BalanceError("too_many_territories",
                           f"{k} territories but only {len(cover)} cells to share")
    members = set(cover)
    cover_res = sorted({h3.get_resolution(c) for c in cover})
    lock_of: list[str | None] = [None] * len(cover)
    index = {c: i for i, c in enumerate(cover)}
    for cell in sorted(lock_cells):
        r = h3.get_resolution(cell)
        if cell in members or (a := _ancestor_in(cell, members, cover_res)) is not None:
            # a lock finer than its cell cannot happen: such cells were split above
            lock_of[index[cell if cell in members else a]] = locks[cell]
            continue
        inner = [index[c] for c in cover if h3.get_resolution(c) > r
                 and h3.cell_to_parent(c, r) == cell]
        if not inner:
            raise BalanceError("invalid_lock", f"locked cell {cell} is not in the region")
        for i in inner:
            lock_of[i] = locks[cell]
    return _arrays(cover, lock_of, points, inv, inside, fine, fine_cells, fw, fp, fn)


#: Filling the derived cover: an empty cell with at least this many of its six neighbours in
#: the cover joins it (holes and notches of sparse edges), repeated a few times.
FILL_NEIGHBOURS = 4
FILL_ROUNDS = 3


def _fill_holes(cells: list[str]) -> list[str]:
    members = set(cells)
    for _ in range(FILL_ROUNDS):
        counts: dict[str, int] = {}
        for c in members:
            for near in h3.grid_ring(c, 1):
                if near not in members:
                    counts[near] = counts.get(near, 0) + 1
        grown = {c for c, n in counts.items() if n >= FILL_NEIGHBOURS}
        if not grown:
            break
        members |= grown
    return sorted(members)


def _arrays(cover: list[str], lock_of: list[str | None], points: list[str], inv: np.ndarray,
            inside: np.ndarray, fine: np.ndarray, fine_cells: np.ndarray, fw: np.ndarray,
            fp: np.ndarray, fn: np.ndarray) -> Cover:
    n = len(cover)
    owner = _owners(fine, cover)
    res = np.fromiter((h3.get_resolution(c) for c in cover), dtype=np.int64, count=n)
    w = np.bincount(owner, weights=fw, minlength=n)
    p = np.bincount(owner, weights=fp, minlength=n)
    cnt = np.bincount(owner, weights=fn, minlength=n).astype(np.int64)
    ll = np.array([h3.cell_to_latlng(c) for c in fine_cells.tolist()]).reshape(-1, 2)
    la, lo = np.radians(ll[:, 0]), np.radians(ll[:, 1])
    weight = np.where(fw > 0, fw, 1e-9 * fn)
    xyz = np.column_stack([np.bincount(owner, weights=weight * v, minlength=n) for v in
                           (np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la))])
    lat = np.degrees(np.arctan2(xyz[:, 2], np.hypot(xyz[:, 0], xyz[:, 1])))
    lng = np.degrees(np.arctan2(xyz[:, 1], xyz[:, 0]))
    for i in np.flatnonzero(cnt == 0).tolist():
        lat[i], lng[i] = h3.cell_to_latlng(cover[i])
    fine_owner = np.full(len(inside), -1, dtype=np.int64)
    fine_owner[np.flatnonzero(inside)] = owner
    demand_cell = fine_owner[inv] if len(points) else np.zeros(0, dtype=np.int64)
    return Cover(cells=cover, res=res, workload=w, potential=p, accounts=cnt, lat=lat, lng=lng,
                 lock=lock_of, demand_cell=demand_cell, points=points,
                 outside=int(np.count_nonzero(demand_cell < 0)),
                 point_weights=dict(zip(fine_cells.tolist(), zip(
                     fw.tolist(), fp.tolist(), fn.astype(int).tolist(), strict=True), strict=True)))
