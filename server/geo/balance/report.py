"""Figures of a finished partition: per territory, then the plan's quality report.

Compactness is Polsby-Popper (4*pi*A/P^2) relative to a hex disk of as many
cells, so a hex disk scores 1.0. Area is counted in cells of the finest
resolution present and the perimeter in their sides (see ``graph``); a set of
n unit hexagons with perimeter p sides scores (2*sqrt(12n - 3) / p)^2, the
disk's perimeter being 2*sqrt(12n - 3) sides. The region's own edge counts as
perimeter.

Balance is measured against each territory's own target (``targets``): the mean of
the balanced territories, or their total shared out by slot capacity when reps of
unequal capacity are given, one per territory. Deviation is |x - target| / target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse.csgraph import connected_components

from server.geo.balance.assign import haversine_km
from server.geo.balance.cover import Cover
from server.geo.balance.graph import Graph, empty_links
from server.geo.balance.partition import Clusters, UnionFind
from server.geo.balance.types import BalanceInput, Lump, RemoteCluster, TerritoryResult
from server.geo.cells import compact

#: A cell or account is a lump when it alone outweighs the tolerance band (tolerance x the
#: target of the territory holding it): no plan can balance more finely than it. Smaller
#: items are the sand balance is made of.
LUMP_SHARE = 1.0
#: The heaviest lumps reported (the rest are counted in the problems when they matter).
MAX_LUMPS = 50
#: Territories under this compactness are flagged for redraw.
REDRAW_COMPACTNESS = 0.15


@dataclass(frozen=True)
class Geometry:
    contiguous: list[bool]
    compactness: list[float]
    gap_km: list[float]
    gap_width: list[int]


def centroids(cover: Cover, part: np.ndarray, own: np.ndarray, k: int,
              weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Workload-weighted centre of each territory (its cells' centre when it has no workload)."""
    la, lo = np.radians(cover.lat), np.radians(cover.lng)
    xyz = np.column_stack((np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)))
    lat, lng = np.zeros(k), np.zeros(k)
    for t in range(k):
        mask = (part == t) & own
        if not mask.any():
            mask = part == t
        w = weight[mask] if weight[mask].sum() > 0 else np.ones(int(mask.sum()))
        v = (xyz[mask] * w[:, None]).sum(axis=0)
        lat[t] = math.degrees(math.atan2(v[2], math.hypot(v[0], v[1])))
        lng[t] = math.degrees(math.atan2(v[1], v[0]))
    return lat, lng


def geometry(graph: Graph, cover: Cover, part: np.ndarray, own: np.ndarray, k: int) -> Geometry:
    same = (part[graph.src] == part[graph.dst]) & own[graph.src] & own[graph.dst]
    _, comp = connected_components(graph.csr(np.ones(len(graph.src)), same), directed=False)
    cut = ~same & own[graph.src]
    perim = np.bincount(part[graph.src[cut]], weights=graph.side_out[cut],
                        minlength=k).astype(float)
    perim += np.bincount(part[own], weights=graph.open_sides[own], minlength=k)
    area = np.bincount(part[own], weights=graph.area[own], minlength=k)
    pieces = [len(set(comp[(part == t) & own].tolist())) for t in range(k)]
    compactness = [(2 * math.sqrt(max(12 * area[t] - 3, 1)) / perim[t]) ** 2 if perim[t] > 0
                   else 1.0 for t in range(k)]
    links = empty_links(graph, cover.accounts > 0, keep=same)
    gap, width = [0.0] * k, [0] * k
    by_t: dict[int, list[tuple[float, int, int, int]]] = {}
    for length, a, b, cell in zip(links.length.tolist(), links.a.tolist(), links.b.tolist(),
                                  links.cell.tolist(), strict=True):
        by_t.setdefault(int(part[cell]), []).append((length, a, b, cell))
    groups = int(links.group.max()) + 1 if len(links.group) else 1
    for t, items in by_t.items():
        items.sort()
        uf = UnionFind(max(groups, 1))
        tree = [it for it in items if uf.union(it[1], it[2])]
        if not tree:
            continue
        longest = max(tree)
        gap[t] = longest[0]
        uf = UnionFind(max(groups, 1))
        for it in tree:
            if it is not longest:
                uf.union(it[1], it[2])
        side = uf.find(longest[1]), uf.find(longest[2])
        width[t] = len({cell for length, a, b, cell in items
                        if length <= 1.5 * longest[0] + 1e-9
                        and {uf.find(a), uf.find(b)} == set(side)})
    return Geometry(contiguous=[p == 1 for p in pieces], compactness=compactness,
                    gap_km=gap, gap_width=width)


def travel(cover: Cover, part: np.ndarray, own: np.ndarray, k: int, weight: np.ndarray,
           home_lat: np.ndarray, home_lng: np.ndarray) -> tuple[list[float], float]:
    d = haversine_km(cover.lat, cover.lng, home_lat[part], home_lng[part])
    w = np.where(own, weight, 0.0)
    num = np.bincount(part, weights=w * d, minlength=k)
    den = np.bincount(part, weights=w, minlength=k)
    per = [float(num[t] / den[t]) if den[t] > 0 else 0.0 for t in range(k)]
    overall = float(num.sum() / den.sum()) if den.sum() > 0 else 0.0
    return per, overall


def lumps(inp: BalanceInput, cover: Cover, points: list[str], part: np.ndarray,
          target_w: list[float], target_p: list[float]) -> list[Lump]:
    """Accounts and finest cells heavier than the tolerance band of the territory holding
    them, as shares of its target."""

    def share(v: float, m: float) -> float:
        return v / m if m > 0 else 0.0

    def band(targets: list[float], tol: float) -> tuple[list[float], float]:
        per = [LUMP_SHARE * tol * m for m in targets]
        return per, min((b for b in per if b > 0), default=0.0)

    # the smallest band first (a scalar test per item, as fast as one mean), then the band
    # of the territory holding the few items over it
    tw, tw_lo = band(target_w, inp.workload_tolerance)
    tp, tp_lo = band(target_p, inp.potential_tolerance)
    out: list[Lump] = []
    with_account: set[str] = set()
    for d, cell, where in zip(inp.demands, points, cover.demand_cell.tolist(), strict=True):
        if where >= 0 and (d.workload > tw_lo > 0 or d.potential > tp_lo > 0):
            t = int(part[where])
            if d.workload > tw[t] > 0 or d.potential > tp[t] > 0:
                out.append(Lump(cell, d.id, share(d.workload, target_w[t]),
                                share(d.potential, target_p[t])))
                with_account.add(cell)
    territory: dict[str, int] | None = None
    for cell, (w, p, _) in sorted(cover.point_weights.items()):
        if cell not in with_account and (w > tw_lo > 0 or p > tp_lo > 0):
            if territory is None:
                territory = {c: int(part[x]) for c, x in
                             zip(points, cover.demand_cell.tolist(), strict=True) if x >= 0}
            t = territory.get(cell)
            if t is not None and (w > tw[t] > 0 or p > tp[t] > 0):
                out.append(Lump(cell, None, share(w, target_w[t]), share(p, target_p[t])))
    return sorted(out, key=lambda x: (-max(x.workload_share, x.potential_share), x.cell,
                                      x.id or ""))[:MAX_LUMPS]


def remote(cover: Cover, clusters: Clusters, part: np.ndarray, weight: np.ndarray,
           home_lat: np.ndarray, home_lng: np.ndarray) -> list[RemoteCluster]:
    out = []
    for c, exc in enumerate(clusters.exception):
        if not exc:
            continue
        mask = clusters.of_cell == c
        idx = np.flatnonzero(mask)
        gap = float(clusters.gap_km[c]) if math.isfinite(clusters.gap_km[c]) else 0.0
        t = int(part[idx[0]])
        d = haversine_km(cover.lat[idx], cover.lng[idx], np.full(len(idx), home_lat[t]),
                         np.full(len(idx), home_lng[t]))
        w = weight[idx] if weight[idx].sum() > 0 else np.ones(len(idx))
        out.append(RemoteCluster(
            cells=compact(cover.cells[i] for i in idx.tolist()),
            workload=float(cover.workload[mask].sum()), potential=float(cover.potential[mask].sum()),
            accounts=int(cover.accounts[mask].sum()), gap_km=gap,
            kind="own_territory" if clusters.seats[c] else "overlay", territory=t,
            travel_km=float((w * d).sum() / w.sum())))
    return out


def territory_results(cover: Cover, part: np.ndarray, own: np.ndarray, k: int, geo: Geometry,
                      travel_km: list[float], reps: list[str | None], labels: list[str | None],
                      exception: list[bool], exceptions: list[RemoteCluster],
                      capacity: np.ndarray | None = None) -> list[TerritoryResult]:
    w = np.bincount(part[own], weights=cover.workload[own], minlength=k)
    p = np.bincount(part[own], weights=cover.potential[own], minlength=k)
    a = np.bincount(part[own], weights=cover.accounts[own], minlength=k)
    held = [t for t in range(k) if not exception[t]] or list(range(k))
    tw, tp = targets(w, held, capacity), targets(p, held, capacity)
    members: list[list[str]] = [[] for _ in range(k)]
    for cell, t in zip(cover.cells, part.tolist(), strict=True):
        members[t].append(cell)
    return [TerritoryResult(
        index=t, cells=compact(members[t]), workload=float(w[t]), potential=float(p[t]),
        accounts=int(a[t]), rep_id=reps[t], label=labels[t], contiguous=geo.contiguous[t],
        compactness=float(geo.compactness[t]), longest_gap_km=float(geo.gap_km[t]),
        gap_width_cells=int(geo.gap_width[t]), travel_km=travel_km[t], exception=exception[t],
        overlays=[i for i, e in enumerate(exceptions) if e.kind == "overlay" and e.territory == t],
        target_workload=tw[t], target_potential=tp[t])
        for t in range(k)]


def targets(values: np.ndarray, held: list[int], capacity: np.ndarray | None) -> list[float]:
    """Per territory: the mean over ``held`` (the balanced territories), or their total x
    the territory's slot capacity / the held slots' total capacity."""
    total = sum(float(values[t]) for t in held)
    if capacity is None:
        return [total / len(held)] * len(values)
    caps = float(sum(capacity[t] for t in held))
    return [total * float(c) / caps for c in capacity.tolist()]


def off(value: float, target: float, equal: bool) -> float:
    """How far ``value`` is from ``target``: absolute when all targets are equal (the old
    ordering, exactly), else relative to the target."""
    if equal:
        return abs(value - target)
    return abs(value - target) / target if target > 0 else 0.0


def deviation(values: list[float], targets: list[float]) -> float:
    """max |x - target| / target."""
    if not values:
        return 0.0
    if len(set(targets)) == 1:
        mean = targets[0]
        return max(abs(v - mean) for v in values) / mean if mean > 0 else 0.0
    return max(off(v, t, False) for v, t in zip(values, targets, strict=True))
