"""Clusters under the gap cap, seats per cluster, METIS warm starts, and contiguity repair.

Account groups whose empty land between them is at most the cap form a cluster;
empty cells go with the nearest group. No territory spans two clusters, so none
crosses more than the cap. Seats: a cluster that can reach a territory's mean
(within the workload tolerance) gets one and then more while it has the highest
load per seat; a smaller (remote) cluster is an exception: its own territory
(under target) if it holds at least half a mean and seats remain, else an
overlay listed with the nearest territory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymetis
from scipy.sparse.csgraph import connected_components

from server.geo.balance.cover import Cover
from server.geo.balance.graph import Graph, components, empty_links

#: A remote cluster holding at least this share of a mean territory gets its own territory.
OWN_TERRITORY_SHARE = 0.5
#: METIS vertex weight: 1 + this x (cell load / mean cell load), so empty cells weigh ~nothing.
METIS_SCALE = 10_000
_METIS_TOTAL_MAX = 1_500_000_000  # METIS sums weights in 32-bit integers
#: Below this many cells per part METIS gives up (and says so on stdout): grow parts instead.
_METIS_MIN_CELLS_PER_PART = 8


@dataclass(frozen=True)
class Clusters:
    of_cell: np.ndarray  # cluster per cell; clusters numbered by load, heaviest first
    load: np.ndarray  # per cluster
    gap_km: np.ndarray  # per cluster: empty land to the nearest other cluster (inf if alone)
    seats: list[int]  # territories per cluster
    first: list[int]  # the first territory index of each cluster
    exception: list[bool]  # cannot reach the mean within the cap


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[max(ra, rb)] = min(ra, rb)
        return True


def load_of(cover: Cover, graph: Graph) -> np.ndarray:
    """What seats follow: workload, else potential, else accounts, else area."""
    for values in (cover.workload, cover.potential, cover.accounts.astype(float)):
        if values.sum() > 0:
            return values
    return graph.area


def find_clusters(cover: Cover, graph: Graph, load: np.ndarray, k: int, cap_km: float,
                  tolerance: float) -> Clusters:
    links = empty_links(graph, cover.accounts > 0)
    groups = int(links.group.max()) + 1 if graph.n else 0
    uf = UnionFind(max(groups, 1))
    for length, a, b in sorted(zip(links.length.tolist(), links.a.tolist(), links.b.tolist())):
        if length <= cap_km:
            uf.union(a, b)
    roots = np.array([uf.find(g) if g >= 0 else 0 for g in links.group.tolist()], dtype=np.int64)
    uniq = sorted(set(roots.tolist()))
    raw = np.searchsorted(np.array(uniq), roots)
    raw_load = np.bincount(raw, weights=load, minlength=len(uniq))
    first_cell = [int(np.flatnonzero(raw == c)[0]) for c in range(len(uniq))]
    order = sorted(range(len(uniq)), key=lambda c: (-raw_load[c], first_cell[c]))
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[order] = np.arange(len(uniq))
    of_cell = rank[raw]
    m = len(uniq)
    cl_load = raw_load[order]
    gap = np.full(m, np.inf)
    ca = of_cell[links.cell] if len(links.cell) else np.array([], dtype=np.int64)
    # the other side of a link: a cell of group b; take the cluster of group b's root
    root_b = np.array([uf.find(b) for b in links.b.tolist()], dtype=np.int64)
    cb = rank[np.searchsorted(np.array(uniq), root_b)] if len(root_b) else root_b
    for x, y, length in zip(ca.tolist(), cb.tolist(), links.length.tolist()):
        if x != y:
            gap[x] = min(gap[x], length)
            gap[y] = min(gap[y], length)
    sizes = np.bincount(of_cell, minlength=m)
    mean = load.sum() / k
    balanceable = [bool(cl_load[c] >= (1 - tolerance) * mean) for c in range(m)]
    worthy = [c for c in range(m) if balanceable[c]] + \
             [c for c in range(m) if not balanceable[c] and cl_load[c] > 0
              and cl_load[c] >= OWN_TERRITORY_SHARE * mean]
    seats = [0] * m
    for c in worthy[:k]:
        seats[c] = 1
    if not any(seats):
        seats[0] = 1
    left = k - sum(seats)
    pool = [c for c in range(m) if seats[c] and balanceable[c]] or [c for c in range(m) if seats[c]]
    while left > 0:
        open_ = [c for c in pool if seats[c] < sizes[c]] or [c for c in range(m) if seats[c] < sizes[c]]
        c = max(open_, key=lambda c: (cl_load[c] / max(seats[c], 1), -c))
        seats[c] += 1
        left -= 1
    first, at = [], 0
    for c in range(m):
        first.append(at)
        at += seats[c]
    return Clusters(of_cell=of_cell, load=cl_load, gap_km=gap, seats=seats, first=first,
                    exception=[not b for b in balanceable])


def metis_start(graph: Graph, clusters: Clusters, load: np.ndarray, seed: int,
                capacity: np.ndarray | None = None) -> np.ndarray:
    """A contiguous k-way METIS partition of every cluster with more than one seat; with slot
    capacities, each part's share of its cluster is its capacity's share (METIS ``tpwgts``)."""
    part = np.full(graph.n, -1, dtype=np.int64)
    total = load.sum()
    unit = total / graph.n if total > 0 else 1.0
    scale = min(METIS_SCALE, _METIS_TOTAL_MAX / max(1.0, graph.n + METIS_SCALE * graph.n))
    vw_all = (1 + np.rint(scale * load / unit)).astype(np.int64)
    ew_all = np.maximum(1, np.rint(10 * graph.side)).astype(np.int64)
    for c, s in enumerate(clusters.seats):
        members = np.flatnonzero(clusters.of_cell == c)
        if s == 0:
            continue
        if s == 1:
            part[members] = clusters.first[c]
            continue
        if len(members) < _METIS_MIN_CELLS_PER_PART * s:
            part[members] = clusters.first[c] + _grow_split(graph, members, load, s,
                                                            _shares(capacity, clusters.first[c], s))
            continue
        local = np.full(graph.n, -1, dtype=np.int64)
        local[members] = np.arange(len(members))
        keep = (local[graph.src] >= 0) & (local[graph.dst] >= 0)
        s_loc, d_loc = local[graph.src[keep]], local[graph.dst[keep]]
        xadj = np.zeros(len(members) + 1, dtype=np.int64)
        np.cumsum(np.bincount(s_loc, minlength=len(members)), out=xadj[1:])
        opts = pymetis.Options(seed=int(seed), contig=1)
        shares = _shares(capacity, clusters.first[c], s)
        extra = {} if shares is None else {"tpwgts": shares.tolist()}
        _, parts = pymetis.part_graph(s, adjacency=pymetis.CSRAdjacency(xadj, d_loc),
                                      vweights=vw_all[members].tolist(),
                                      eweights=ew_all[keep].tolist(), options=opts, **extra)
        part[members] = clusters.first[c] + np.asarray(parts, dtype=np.int64)
    return part


def _shares(capacity: np.ndarray | None, first: int, s: int) -> np.ndarray | None:
    """Each of a cluster's ``s`` slots' share of its load, or None when they are equal."""
    if capacity is None:
        return None
    caps = capacity[first:first + s]
    if np.all(caps == caps[0]):
        return None
    return caps / caps.sum()


def _grow_split(graph: Graph, members: np.ndarray, load: np.ndarray, s: int,
                shares: np.ndarray | None = None) -> np.ndarray:
    """A tiny cluster cut into ``s`` runs of a breadth-first order, by equal load or by
    ``shares`` of it (the search and the repair take it from there)."""
    inside = set(members.tolist())
    order, seen = [], set()
    for start in members.tolist():
        if start in seen:
            continue
        seen.add(start)
        queue = [start]
        while queue:
            x = queue.pop(0)
            order.append(x)
            for y in graph.nbrs[x]:
                if y in inside and y not in seen:
                    seen.add(y)
                    queue.append(y)
    w = load[order] + 1e-9
    cum = np.cumsum(w) / w.sum()
    if shares is None:
        runs = np.minimum((cum * s - 1e-9).astype(np.int64), s - 1)
    else:
        runs = np.minimum(np.searchsorted(np.cumsum(shares)[:-1], cum - 1e-9, side="right"),
                          s - 1).astype(np.int64)
    # every part gets at least one cell: spread the first s cells if loads are lumpy
    if len(order) >= s and len(set(runs.tolist())) < s:
        runs = np.minimum(np.arange(len(order)) * s // len(order), s - 1)
    local = {cell: int(r) for cell, r in zip(order, runs.tolist(), strict=True)}
    return np.array([local[m] for m in members.tolist()], dtype=np.int64)


def repair(graph: Graph, part: np.ndarray, k: int, clusters: Clusters,
           pinned: np.ndarray) -> np.ndarray:
    """Make every territory one piece: keep the piece holding pinned (locked) cells or the
    largest, hand the others to the neighbour they share most edges with; give every empty
    territory (or cell no start reached) a cell."""
    part = part.copy()
    nbrs = graph.nbrs
    for _ in range(graph.n):
        unreached = np.flatnonzero(part < 0)
        changed = False
        for i in unreached.tolist():
            owners = sorted({int(part[j]) for j in nbrs[i] if part[j] >= 0
                             and clusters.of_cell[j] == clusters.of_cell[i]})
            if owners:
                part[i] = owners[0]
                changed = True
        for t in _split_territories(graph, part):
            pieces = _pieces(nbrs, part, t)
            pieces.sort(key=lambda p: (-int(pinned[p].any()), -len(p), p[0]))
            for piece in pieces[1:]:
                if pinned[piece].any():
                    continue  # locked cells of one label apart: they stay apart
                votes: dict[int, int] = {}
                for i in piece:
                    for j in nbrs[i]:
                        if part[j] != t:
                            votes[int(part[j])] = votes.get(int(part[j]), 0) + 1
                votes.pop(-1, None)
                if votes:
                    part[piece] = min(votes, key=lambda u: (-votes[u], u))
                    changed = True
        if not changed:
            break
    for t in range(k):
        if not np.any(part == t):
            _seed_empty(graph, part, t, clusters, pinned)
    return part


def _split_territories(graph: Graph, part: np.ndarray) -> list[int]:
    """Territories in more than one piece (one scipy pass instead of a search per territory)."""
    same = (part[graph.src] == part[graph.dst]) & (part[graph.src] >= 0)
    _, comp = connected_components(graph.csr(np.ones(len(graph.src)), same), directed=False)
    have = part >= 0
    pairs = np.unique(np.column_stack((part[have], comp[have])), axis=0)
    counts = np.bincount(pairs[:, 0])
    return np.flatnonzero(counts > 1).tolist()


def _pieces(nbrs: list[list[int]], part: np.ndarray, t: int) -> list[list[int]]:
    return components(nbrs, np.flatnonzero(part == t).tolist())


def _seed_empty(graph: Graph, part: np.ndarray, t: int, clusters: Clusters,
                pinned: np.ndarray) -> None:
    """Give the empty territory ``t`` an unpinned cell of its cluster's largest territory
    whose removal keeps that territory in one piece."""
    c = next(c for c in range(len(clusters.seats))
             if clusters.first[c] <= t < clusters.first[c] + clusters.seats[c])
    pool = np.flatnonzero(clusters.of_cell == c)
    sizes = np.bincount(part[pool][part[pool] >= 0], minlength=t + 1)
    donor = int(np.argmax(sizes))
    for i in np.flatnonzero(part == donor).tolist():
        if pinned[i]:
            continue
        part[i] = t
        if len(_pieces(graph.nbrs, part, donor)) <= 1:
            return
        part[i] = donor
