"""``balance()``: cover, graph, clusters, several polished starts, the best kept, reps, report."""

from __future__ import annotations

import math
import time

import numpy as np

from server.geo.balance import report as rp
from server.geo.balance.assign import (
    LOCK_WEIGHT,
    assign_reps,
    haversine_km,
    match_labels,
    slot_capacities,
)
from server.geo.balance.cover import Cover, build_cover
from server.geo.balance.gaps import gap_repair
from server.geo.balance.graph import Graph, build_graph
from server.geo.balance.partition import (
    Clusters,
    find_clusters,
    load_of,
    metis_start,
    repair,
)
from server.geo.balance.polish import Problem, cut_length, polish
from server.geo.balance.types import BalanceError, BalanceInput, Plan, Report


def balance(inp: BalanceInput) -> Plan:
    """A balanced plan for ``inp``; deterministic for the same input and seed (except
    ``report.elapsed``). Bad input raises ``BalanceError``; tolerances that cannot be met
    give ``report.met == False`` with the best plan found."""
    clock = _Clock()
    cover = build_cover(inp)
    clock.lap("cover")
    graph = build_graph(cover)
    clock.lap("graph")
    k = inp.territories
    capacity = slot_capacities(list(inp.reps), k)
    load = load_of(cover, graph)
    clusters = find_clusters(cover, graph, load, k, inp.gap_cap_km, inp.workload_tolerance)
    clock.lap("clusters")
    labels, label_accounts, lock_matrix = _labels(inp, cover, k)
    seated = np.asarray(clusters.seats)[clusters.of_cell] > 0
    locked = np.array([x is not None for x in cover.lock], dtype=bool)
    labelled_total = int(label_accounts.sum())
    budget = (math.floor(inp.disruption_budget * labelled_total + 1e-9)
              if inp.disruption_budget is not None and labelled_total else None)
    starts: list[np.ndarray] = []
    if budget is None or not labels:
        starts += [metis_start(graph, clusters, load, inp.seed + i, capacity)
                   for i in range(max(1, inp.starts))]
    if labels and labelled_total:
        starts.append(_project_current(graph, clusters, label_accounts, seated))
    clock.lap("starts")
    territory_balanced = _balanced_territories(clusters, k)
    best = None
    for i, start in enumerate(starts):
        part = _with_locks(graph, clusters, start, label_accounts, lock_matrix, locked, k)
        part[~seated & ~locked] = -1  # overlays: attached after the search, never balanced
        cur = _current_matrix(part, label_accounts, lock_matrix, k)
        prob = _problem(graph, cover, clusters, k, inp, territory_balanced, locked | ~seated,
                        cur if labelled_total else None, budget, capacity)
        part = polish(prob, part)
        part = gap_repair(graph, cover, prob, part, inp.gap_cap_km, locked)
        part = _attach_overlays(graph, cover, part, k)
        key = _score(prob, part, cur, budget, i)
        if best is None or key < best[0]:
            best = (key, part)
    part = best[1]
    clock.lap("polish")
    return evaluate(inp, cover, graph, clusters, part, seated, territory_balanced, labels,
                    label_accounts, lock_matrix, clock)


def evaluate(inp: BalanceInput, cover: Cover, graph: Graph, clusters: Clusters | None,
             part: np.ndarray, own: np.ndarray, balanced: np.ndarray, labels: list[str],
             label_accounts: np.ndarray, lock_matrix: np.ndarray, clock: _Clock) -> Plan:
    """The plan and its report for any partition (the k-means baseline uses it too)."""
    k = inp.territories
    capacity = slot_capacities(list(inp.reps), k)
    weight = cover.workload if cover.workload.sum() > 0 else cover.accounts.astype(float)
    lat, lng = rp.centroids(cover, part, own, k, weight)
    reps = assign_reps(list(inp.reps), lat, lng, capacity)
    by_id = {r.id: r for r in inp.reps}
    home_lat, home_lng = lat.copy(), lng.copy()
    for t, rid in enumerate(reps):
        if rid is not None and by_id[rid].lat is not None and by_id[rid].lng is not None:
            home_lat[t], home_lng[t] = by_id[rid].lat, by_id[rid].lng
    overlap = (_overlap(part, label_accounts, k) + LOCK_WEIGHT * _overlap(part, lock_matrix, k)
               if labels else np.zeros((0, k)))
    match = match_labels(overlap)
    label_of = [None] * k
    for li, t in match.items():
        label_of[t] = labels[li]
    clock.lap("assign")
    geo = rp.geometry(graph, cover, part, own, k)
    # travel counts overlays too: the territory's rep drives to them
    per_travel, travel_all = rp.travel(cover, part, np.ones_like(own), k, weight, home_lat,
                                       home_lng)
    exceptions = (rp.remote(cover, clusters, part, weight, home_lat, home_lng)
                  if clusters is not None else [])
    exc_t = [not bool(b) for b in balanced]
    terrs = rp.territory_results(cover, part, own, k, geo, per_travel, reps, label_of, exc_t,
                                 exceptions, capacity)
    held = [t for t in terrs if not t.exception] or terrs
    wdev = rp.deviation([t.workload for t in held], [t.target_workload for t in held])
    pdev = rp.deviation([t.potential for t in held], [t.target_potential for t in held])
    lumps = rp.lumps(inp, cover, cover.points, part, [t.target_workload for t in terrs],
                     [t.target_potential for t in terrs])
    moved, moved_share = _moved(inp, cover, part, label_of)
    problems = _problems(inp, terrs, held, wdev, pdev, moved_share)
    met = not [p for p in problems if not p.startswith("redraw")]
    if capacity is None and len({r.capacity for r in inp.reps}) > 1:
        problems.append(f"rep capacities ignored: {len(inp.reps)} reps for {k} territories "
                        "(targets follow capacity only with one rep per territory)")
    if exceptions:
        problems.append(f"{len(exceptions)} remote cluster(s) beyond the {inp.gap_cap_km:g} km "
                        "gap cap are exceptions (see report.exceptions)")
    comp = [t.compactness for t in terrs]
    clock.lap("report")
    res_count: dict[int, int] = {}
    for r in cover.res.tolist():
        res_count[r] = res_count.get(r, 0) + 1
    report = Report(
        max_workload_deviation=wdev, max_potential_deviation=pdev,
        all_contiguous=all(t.contiguous for t in terrs), compactness_mean=float(np.mean(comp)),
        compactness_min=float(np.min(comp)), weighted_travel_km=travel_all, accounts_moved=moved,
        accounts_moved_share=moved_share, lumps=lumps, exceptions=exceptions, met=met,
        problems=problems, seed=inp.seed, cells_per_resolution=dict(sorted(res_count.items())),
        outside=cover.outside, elapsed=clock.laps)
    return Plan(assignment=dict(zip(cover.cells, part.tolist(), strict=True)), territories=terrs,
                report=report)


class _Clock:
    def __init__(self) -> None:
        self.t = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self.t, 4)
        self.t = now


def _labels(inp: BalanceInput, cover: Cover, k: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    lock_labels = {x for x in cover.lock if x is not None}
    if len(lock_labels) > k:
        raise BalanceError("invalid_lock", f"cells are locked to {len(lock_labels)} territories, "
                           f"more than the {k} to draw")
    labels = sorted(set(inp.current.values()) | lock_labels)
    index = {x: i for i, x in enumerate(labels)}
    acc = np.zeros((len(cover.cells), len(labels)))
    for d, c in zip(inp.demands, cover.demand_cell.tolist(), strict=True):
        if c >= 0 and (lab := inp.current.get(d.id)) is not None:
            acc[c, index[lab]] += 1
    locks = np.zeros_like(acc)
    for c, lab in enumerate(cover.lock):
        if lab is not None:
            locks[c, index[lab]] = 1
    return labels, acc, locks


def _overlap(part: np.ndarray, per_cell: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((per_cell.shape[1], k))
    np.add.at(out.T, part, per_cell)
    return out


def _with_locks(graph: Graph, clusters: Clusters, start: np.ndarray, acc: np.ndarray,
                locks: np.ndarray, locked: np.ndarray, k: int) -> np.ndarray:
    part = start.copy()
    part[part < 0] = -1
    if locked.any():
        seen = np.where(part >= 0, part, 0)
        match = match_labels(_overlap(seen, acc, k) + LOCK_WEIGHT * _overlap(seen, locks, k),
                             keep_zero=True)
        for c in np.flatnonzero(locked).tolist():
            part[c] = match[int(np.argmax(locks[c]))]
    return repair(graph, part, k, clusters, locked)


def _current_matrix(part: np.ndarray, acc: np.ndarray, locks: np.ndarray, k: int) -> np.ndarray:
    """cell x territory: accounts of the cell whose current label is matched to the territory."""
    cur = np.zeros((len(part), k))
    if acc.shape[1]:
        held = part >= 0
        match = match_labels(_overlap(part[held], acc[held], k)
                             + LOCK_WEIGHT * _overlap(part[held], locks[held], k))
        for li, t in match.items():
            cur[:, t] = acc[:, li]
    return cur


def _balanced_territories(clusters: Clusters, k: int) -> np.ndarray:
    bal = np.zeros(k, dtype=bool)
    for c, s in enumerate(clusters.seats):
        if s and not clusters.exception[c]:
            bal[clusters.first[c]:clusters.first[c] + s] = True
    return bal if bal.any() else np.ones(k, dtype=bool)


def _problem(graph: Graph, cover: Cover, clusters: Clusters, k: int, inp: BalanceInput,
             balanced: np.ndarray, frozen: np.ndarray, cur: np.ndarray | None,
             budget: int | None, capacity: np.ndarray | None) -> Problem:
    seats = np.asarray(clusters.seats)
    by_cluster = (seats > 0) & ~np.asarray(clusters.exception, dtype=bool)
    if not by_cluster.any():
        by_cluster = seats > 0
    in_bal = by_cluster[clusters.of_cell]
    held = seats[clusters.of_cell] > 0  # overlays are listed, not balanced
    total_w, total_p = cover.workload[in_bal].sum(), cover.potential[in_bal].sum()
    if capacity is None:
        nb = max(int(balanced.sum()), 1)
        target_w, target_p = np.full(k, float(total_w / nb)), np.full(k, float(total_p / nb))
    else:  # each slot's share of the balanced territories' total, by capacity
        share = capacity / max(float(capacity[balanced].sum()), 1e-300)
        target_w, target_p = float(total_w) * share, float(total_p) * share
    return Problem(graph=graph, k=k, workload=cover.workload * held,
                   potential=cover.potential * held, target_w=target_w, target_p=target_p,
                   tol_w=inp.workload_tolerance, tol_p=inp.potential_tolerance, balanced=balanced,
                   frozen=frozen, current=cur, budget=budget)


def _score(prob: Problem, part: np.ndarray, cur: np.ndarray, budget: int | None,
           i: int) -> tuple:
    w = np.bincount(part, weights=prob.workload, minlength=prob.k)
    p = np.bincount(part, weights=prob.potential, minlength=prob.k)
    b = prob.balanced
    dw = _in_bands(w[b], prob.target_w[b], prob.tol_w)
    dp = _in_bands(p[b], prob.target_p[b], prob.tol_p)
    worst = float(max(np.max(dw, initial=0), np.max(dp, initial=0)))
    moved = float((cur.sum(axis=1) - cur[np.arange(len(part)), part]).sum())
    over = budget is not None and moved > budget
    return (over, max(worst, 1.0), cut_length(prob.graph, part), moved, i)


def _in_bands(x: np.ndarray, target: np.ndarray, tol: float) -> np.ndarray:
    """|x - target| in tolerance bands (tolerance x target); 0 where there is no target."""
    out = np.zeros(len(x))
    band = target * tol
    np.divide(np.abs(x - target), band, out=out, where=band > 0)
    return out


def _project_current(graph: Graph, clusters: Clusters, acc: np.ndarray,
                     seated: np.ndarray) -> np.ndarray:
    """The current plan on the cells: a cell goes to the label most of its accounts have;
    labels fill their cluster's seats heaviest first; unlabelled cells take the nearest."""
    n = graph.n
    label = np.where(acc.sum(axis=1) > 0, np.argmax(acc, axis=1), -1)
    part = np.full(n, -1, dtype=np.int64)
    for c, s in enumerate(clusters.seats):
        if not s:
            continue
        mask = (clusters.of_cell == c) & (label >= 0)
        counts = np.bincount(label[mask], minlength=acc.shape[1])
        ranked = sorted((-counts[lab], lab) for lab in np.flatnonzero(counts).tolist())[:s]
        for slot, (_, lab) in enumerate(ranked):
            part[mask & (label == lab)] = clusters.first[c] + slot
    frontier = np.flatnonzero(part >= 0).tolist()
    while frontier:
        nxt = []
        for i in frontier:
            for j in graph.nbrs[i]:
                if part[j] < 0 and seated[j] and clusters.of_cell[j] == clusters.of_cell[i]:
                    part[j] = part[i]
                    nxt.append(j)
        frontier = nxt
    return part


def _attach_overlays(graph: Graph, cover: Cover, part: np.ndarray, k: int) -> np.ndarray:
    """Cells of clusters without a seat go, cluster by cluster, with the territory whose
    workload centre is nearest to the cluster's (the rep who would serve them)."""
    part = part.copy()
    if not (part < 0).any() or not (part >= 0).any():
        return part
    seated = part >= 0
    weight = cover.workload if cover.workload.sum() > 0 else cover.accounts.astype(float)
    lat, lng = rp.centroids(cover, np.where(seated, part, 0), seated, k, weight)
    alive = np.bincount(part[seated], minlength=k) > 0
    groups = _overlay_groups(graph, seated)
    members: dict[int, list[int]] = {}
    for cell, g in groups.items():
        members.setdefault(g, []).append(cell)
    for g in sorted(members):
        cells = np.array(sorted(members[g]))
        w = weight[cells] if weight[cells].sum() > 0 else np.ones(len(cells))
        c_lat = float(np.average(cover.lat[cells], weights=w))
        c_lng = float(np.average(cover.lng[cells], weights=w))
        d = haversine_km(np.full(k, c_lat), np.full(k, c_lng), lat, lng)
        d[~alive] = np.inf
        part[cells] = int(np.argmin(d))
    return part


def _overlay_groups(graph: Graph, seated: np.ndarray) -> dict[int, int]:
    groups: dict[int, int] = {}
    for s in np.flatnonzero(~seated).tolist():
        if s in groups:
            continue
        groups[s] = s
        stack = [s]
        while stack:
            x = stack.pop()
            for y in graph.nbrs[x]:
                if not seated[y] and y not in groups:
                    groups[y] = s
                    stack.append(y)
    return groups


def _moved(inp: BalanceInput, cover: Cover, part: np.ndarray,
           label_of: list[str | None]) -> tuple[int, float]:
    moved = labelled = 0
    for d, c in zip(inp.demands, cover.demand_cell.tolist(), strict=True):
        lab = inp.current.get(d.id)
        if c < 0 or lab is None:
            continue
        labelled += 1
        moved += label_of[int(part[c])] != lab
    return moved, (moved / labelled if labelled else 0.0)


def _problems(inp: BalanceInput, terrs: list, held: list, wdev: float, pdev: float,
              moved_share: float) -> list[str]:
    out = []
    for what, dev, tol in (("workload", wdev, inp.workload_tolerance),
                           ("potential", pdev, inp.potential_tolerance)):
        if dev <= tol + 1e-9:
            continue
        targets = [getattr(t, f"target_{what}") for t in held]
        equal = len(set(targets)) == 1
        worst = max(held, key=lambda t: rp.off(getattr(t, what), getattr(t, f"target_{what}"),
                                               equal))
        target = getattr(worst, f"target_{what}")
        out.append(f"{what} deviation {dev:.1%} exceeds {tol:.1%} (territory {worst.index}: "
                   f"{getattr(worst, what):,.1f} against a {'mean' if equal else 'target'} of "
                   f"{target:,.1f})")
    for t in terrs:
        if not t.contiguous:
            out.append(f"territory {t.index} is not in one piece")
        if t.longest_gap_km > inp.gap_cap_km + 1e-9:
            out.append(f"territory {t.index} crosses {t.longest_gap_km:.0f} km of empty land "
                       f"(cap {inp.gap_cap_km:g} km)")
    if inp.disruption_budget is not None and moved_share > inp.disruption_budget + 1e-9:
        out.append(f"{moved_share:.1%} of accounts move, over the budget of "
                   f"{inp.disruption_budget:.1%}")
    out += [f"redraw: territory {t.index} has compactness {t.compactness:.2f} "
            f"(< {rp.REDRAW_COMPACTNESS})" for t in terrs if t.compactness < rp.REDRAW_COMPACTNESS]
    return out
