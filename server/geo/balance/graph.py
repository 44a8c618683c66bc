"""The balancing graph: cells with 1-ring edges across resolutions, islands joined.

Edges come from ``server.geo.cells.adjacency`` (a cell touches another when a
grid neighbour of the finer one lies inside the coarser one). Islands (groups
touching nothing else) are joined to their nearest cell by an edge whose length
is the empty land between the two cells: a *gap*.

Lengths and areas for compactness are counted in cells of the finest resolution
present: a cell of resolution r has area 7^(f-r) and sides sqrt(7)^(f-r). Each
cell's six sides are shared out among the cells across them (a same-resolution
neighbour, the coarser cell covering it, or the finer cells inside it, equally);
a side with nothing across is open (the region's edge). Exact on one
resolution; across resolutions the two cells' counts of a border differ a little.

*Empty land* is measured by a Dijkstra from every cell holding an account: an
empty cell costs its width (centre spacing), a cell holding accounts costs
nothing, a join edge costs its gap. Where two searches meet, the sum is the
empty stretch between those two groups of accounts; the longest link of the
minimum spanning tree over them is the longest gap a set of cells crosses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import h3
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from server.geo.balance.cover import Cover
from server.geo.cells import adjacency

EARTH_KM = 6371.0088
_EPS = 1e-9  # weight of a free edge (csgraph reads a missing entry as no edge)
_JOIN_CANDIDATES = 12


def spacing_km(res: int) -> float:
    """Distance between neighbouring cell centres at ``res`` (the width of a cell)."""
    return math.sqrt(3) * h3.average_hexagon_edge_length(res, unit="km")


@dataclass(frozen=True)
class Graph:
    n: int
    nbrs: list[list[int]]  # sorted neighbour lists (joins included)
    src: np.ndarray  # directed edges, both directions, sorted by (src, dst)
    dst: np.ndarray
    gap: np.ndarray  # km of empty land an edge jumps (0 for touching cells)
    side: np.ndarray  # border length of an edge counted from both cells (for cuts), finest sides
    side_out: np.ndarray  # the part of the border counted from the source cell
    area: np.ndarray  # per cell, in finest cells
    open_sides: np.ndarray  # per cell: border with the outside of the cover, finest sides
    width_km: np.ndarray  # per cell: centre spacing at its resolution
    xyz: np.ndarray  # unit vectors of cell centres
    joins: int  # island joins added

    def gap_of(self, a: int, b: int) -> float:
        """Empty land the edge a-b jumps (0 for touching cells)."""
        lo, hi = np.searchsorted(self.src, [a, a + 1])
        e = lo + int(np.searchsorted(self.dst[lo:hi], b))
        return float(self.gap[e])

    def csr(self, weights: np.ndarray, keep: np.ndarray | None = None) -> sp.csr_matrix:
        mask = slice(None) if keep is None else keep
        return sp.csr_matrix((weights[mask], (self.src[mask], self.dst[mask])),
                             shape=(self.n, self.n))


def components(nbrs: list[list[int]], members: list[int]) -> list[list[int]]:
    """The touching groups of ``members`` (graph nodes) along ``nbrs``, each sorted, in order of first member."""
    inside: set[int] = set(members)
    seen: set[int] = set()
    out = []
    for s in members:
        if s in seen:
            continue
        seen.add(s)
        stack, piece = [s], []
        while stack:
            x = stack.pop()
            piece.append(x)
            for y in nbrs[x]:
                if y in inside and y not in seen:
                    seen.add(y)
                    stack.append(y)
        out.append(sorted(piece))
    return out


def unit_xyz(lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lng)
    return np.column_stack((np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)))


def chord_to_km(chord: np.ndarray | float) -> np.ndarray | float:
    return 2 * EARTH_KM * np.arcsin(np.clip(np.asarray(chord) / 2, 0, 1))


def build_graph(cover: Cover) -> Graph:
    cells = cover.cells
    n = len(cells)
    index = {c: i for i, c in enumerate(cells)}
    adj = adjacency(cells)
    nbr_sets = [[index[x] for x in adj[c]] for c in cells]
    finest = int(cover.res.max())
    side_of = {r: math.sqrt(7) ** (finest - r) for r in range(16)}
    res = cover.res.tolist()
    centres = [h3.cell_to_latlng(c) for c in cells]
    xyz = unit_xyz(np.array([c[0] for c in centres]), np.array([c[1] for c in centres]))
    spacing = {r: spacing_km(r) for r in set(res)}
    width = np.array([spacing[r] for r in res])
    # a cell with six same-resolution neighbours in the cover has no open side: skip the ring
    full = [len(ns) >= 6 and all(res[j] == r for j in ns) for ns, r in zip(nbr_sets, res,
                                                                          strict=True)]

    src = [i for i, ns in enumerate(nbr_sets) for _ in ns]
    dst = [j for ns in nbr_sets for j in ns]
    gap = [0.0] * len(src)
    joins = 0
    if n > 1:
        ncomp, comp = connected_components(
            sp.csr_matrix((np.ones(len(src)), (src, dst)), shape=(n, n)), directed=False)
        if ncomp > 1:
            extra = _join_islands(xyz, width, comp)
            joins = len(extra)
            for a, b, g in extra:
                nbr_sets[a].append(b)
                nbr_sets[b].append(a)
                src += [a, b]
                dst += [b, a]
                gap += [g, g]
    src_a, dst_a, gap_a = np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64), np.array(gap)
    order = np.lexsort((dst_a, src_a))
    src_a, dst_a, gap_a = src_a[order], dst_a[order], gap_a[order]
    keys = src_a * n + dst_a  # sorted: edges are ordered by (src, dst)
    res_np = cover.res
    side_np = np.array([side_of[r] for r in range(16)])
    full_np = np.array(full, dtype=bool)
    side_out = np.where(full_np[src_a] & (gap_a == 0), side_np[res_np[src_a]], 0.0)
    out_w: dict[tuple[int, int], float] = {}
    open_sides = np.zeros(n)
    for i in np.flatnonzero(~full_np).tolist():
        open_sides[i] = _sides_of(i, cells[i], res[i], side_of[res[i]], index, nbr_sets[i],
                                  cells, out_w)
    if out_w:
        pairs = np.array(sorted(out_w), dtype=np.int64)
        side_out[np.searchsorted(keys, pairs[:, 0] * n + pairs[:, 1])] = \
            [out_w[a, b] for a, b in pairs.tolist()]
    back = np.searchsorted(keys, dst_a * n + src_a)
    side = side_out + side_out[back]
    area = np.array([7.0 ** (finest - r) for r in res])
    return Graph(n=n, nbrs=[sorted(ns) for ns in nbr_sets], src=src_a, dst=dst_a, gap=gap_a,
                 side=side, side_out=side_out, area=area, open_sides=open_sides, width_km=width, xyz=xyz, joins=joins)


def _sides_of(i: int, cell: str, r: int, side: float, index: dict[str, int], nbrs: list[int],
              cells: list[str], out_w: dict[tuple[int, int], float]) -> float:
    """Split the six sides of ``cell`` among the cells across them (``out_w``); return the
    length of its sides facing land outside the cover."""
    finer = [j for j in nbrs if h3.get_resolution(cells[j]) > r]
    open_len = 0.0
    for near in h3.grid_ring(cell, 1):
        across: list[int] = []
        if near in index:
            across = [index[near]]
        else:
            owner = next((h3.cell_to_parent(near, q) for q in range(r - 1, 3, -1)
                          if h3.cell_to_parent(near, q) in index), None)
            if owner is not None:
                across = [index[owner]]
            else:
                across = [j for j in finer if h3.cell_to_parent(cells[j], r) == near]
        if not across:
            open_len += side
        for j in across:
            out_w[i, j] = out_w.get((i, j), 0.0) + side / len(across)
    return open_len


def _join_islands(xyz: np.ndarray, width: np.ndarray, comp: np.ndarray) -> list[tuple[int, int, float]]:
    """Join components by a minimum spanning forest over nearest-cell links (Kruskal),
    then Boruvka-style nearest links for whatever is still apart."""
    n = len(comp)
    tree = cKDTree(xyz)
    kq = min(_JOIN_CANDIDATES, n)
    dist, idx = tree.query(xyz, k=kq)
    links = []
    for a in range(n):
        for d, b in zip(dist[a], idx[a], strict=True):
            if b < n and comp[a] != comp[b]:
                links.append((_gap_km(d, width[a], width[b]), min(a, int(b)), max(a, int(b))))
    parent = list(range(int(comp.max()) + 1))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    chosen = []
    for g, a, b in sorted(set(links)):
        ra, rb = find(comp[a]), find(comp[b])
        if ra != rb:
            parent[ra] = rb
            chosen.append((a, b, g))
    while True:
        roots = np.array([find(c) for c in comp])
        groups = sorted(set(roots.tolist()))
        if len(groups) == 1:
            break
        best: dict[int, tuple[float, int, int]] = {}
        for grp in groups:
            inside = np.flatnonzero(roots == grp)
            others = np.flatnonzero(roots != grp)
            d, j = cKDTree(xyz[others]).query(xyz[inside])
            t = int(np.argmin(d))
            a, b = int(inside[t]), int(others[j[t]])
            best[grp] = (_gap_km(d[t], width[a], width[b]), min(a, b), max(a, b))
        for g, a, b in sorted(set(best.values())):
            ra, rb = find(comp[a]), find(comp[b])
            if ra != rb:
                parent[ra] = rb
                chosen.append((a, b, g))
    return sorted(chosen)


def _gap_km(chord: float, wa: float, wb: float) -> float:
    return max(float(chord_to_km(chord)) - (wa + wb) / 2, _EPS)


@dataclass(frozen=True)
class Links:
    """Meeting points of the searches from each group of touching account cells."""

    group: np.ndarray  # per cell: the account group it is nearest to (-1: none reachable)
    a: np.ndarray  # per link: the two groups, the empty land between them, a cell on one side
    b: np.ndarray
    length: np.ndarray
    cell: np.ndarray


def empty_links(graph: Graph, occupied: np.ndarray, keep: np.ndarray | None = None) -> Links:
    """Links between groups of touching account cells, over the edges ``keep`` (all by default)."""
    n = graph.n
    keep_mask = np.ones(len(graph.src), dtype=bool) if keep is None else keep
    both = occupied[graph.src] & occupied[graph.dst] & keep_mask & (graph.gap == 0)
    _, occ_comp = connected_components(graph.csr(np.ones(len(graph.src)), both), directed=False)
    sources = np.flatnonzero(occupied)
    if len(sources) == 0:
        empty = np.array([], dtype=np.int64)
        return Links(np.full(n, -1), empty, empty, np.array([]), empty)
    empty_cost = np.where(occupied, 0.0, graph.width_km)
    w = (empty_cost[graph.src] + empty_cost[graph.dst]) / 2 + graph.gap + _EPS
    dist, _, nearest = dijkstra(graph.csr(w, keep_mask), directed=True, indices=sources,
                                min_only=True, return_predecessors=True)
    group = np.where(nearest >= 0, occ_comp[np.maximum(nearest, 0)], -1)
    s, d = graph.src[keep_mask], graph.dst[keep_mask]
    ga, gb = group[s], group[d]
    cross = (ga >= 0) & (gb >= 0) & (ga < gb)
    length = dist[s[cross]] + w[keep_mask][cross] + dist[d[cross]]
    return Links(group, ga[cross], gb[cross], length, s[cross])
