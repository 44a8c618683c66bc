"""Cutting territories at gaps over the cap.

Clusters keep territories from joining accounts across more empty land than
the cap between clusters; inside one cluster a territory can still do it when
the short way round runs through a neighbour. Such a territory is cut at its
longest gap, the lighter side handed to the neighbours it borders most, and
the local search rebalances; a few rounds, then whatever is left is reported.
"""

from __future__ import annotations

import numpy as np

from server.geo.balance.cover import Cover
from server.geo.balance.graph import Graph, components, empty_links
from server.geo.balance.partition import UnionFind
from server.geo.balance.polish import Problem, polish

#: Rounds of cutting territories at gaps over the cap, then polishing again.
GAP_REPAIR_ROUNDS = 3


def gap_repair(graph: Graph, cover: Cover, prob: Problem, part: np.ndarray, cap_km: float,
                locked: np.ndarray) -> np.ndarray:
    """A territory may join accounts across more empty land than the cap inside one cluster
    (the short way round runs through a neighbour). Cut it at its longest gap: the lighter
    side goes to the neighbours it borders most, then the search rebalances."""
    for _ in range(GAP_REPAIR_ROUNDS):
        cuts = _over_cap(graph, cover, part, cap_km)
        if not cuts:
            break
        for t, cells in cuts:
            movable = [c for c in cells if not locked[c]]
            for piece in components(graph.nbrs, movable):
                votes: dict[int, int] = {}
                inside = set(piece)
                for c in piece:
                    for j in graph.nbrs[c]:
                        u = int(part[j])
                        if j not in inside and u not in (t, -1) and graph.gap_of(c, j) == 0:
                            votes[u] = votes.get(u, 0) + 1
                if not votes:
                    continue
                u = min(votes, key=lambda u: (-votes[u], u))
                if prob.budget is not None and prob.current is not None:
                    cur = prob.current
                    held = part >= 0
                    moved = (cur[held].sum(axis=1) - cur[np.flatnonzero(held), part[held]]).sum()
                    delta = (cur[piece, t] - cur[piece, u]).sum()
                    if delta > 0 and moved + delta > prob.budget:
                        continue  # the disruption budget wins; the gap stays reported
                part[piece] = u
        part = polish(prob, part)
    return part


def _over_cap(graph: Graph, cover: Cover, part: np.ndarray,
              cap_km: float) -> list[tuple[int, list[int]]]:
    """(territory, cells on the lighter side of its longest gap) for gaps over the cap."""
    same = (part[graph.src] == part[graph.dst]) & (part[graph.src] >= 0)
    links = empty_links(graph, cover.accounts > 0, keep=same)
    groups = int(links.group.max()) + 1 if len(links.group) else 1
    by_t: dict[int, list[tuple[float, int, int]]] = {}
    for length, a, b, cell in zip(links.length.tolist(), links.a.tolist(), links.b.tolist(),
                                  links.cell.tolist(), strict=True):
        by_t.setdefault(int(part[cell]), []).append((length, a, b))
    out = []
    for t in sorted(by_t):
        items = sorted(by_t[t])
        uf = UnionFind(max(groups, 1))
        tree = [it for it in items if uf.union(it[1], it[2])]
        longest = max(tree)
        if longest[0] <= cap_km:
            continue
        uf = UnionFind(max(groups, 1))
        for it in tree:
            if it is not longest:
                uf.union(it[1], it[2])
        side_a, side_b = uf.find(longest[1]), uf.find(longest[2])
        members = np.flatnonzero(part == t)
        root = np.array([uf.find(int(g)) if g >= 0 else -1 for g in links.group[members]])
        wa = cover.workload[members[root == side_a]].sum()
        wb = cover.workload[members[root == side_b]].sum()
        lighter = side_a if (wa, side_a) < (wb, side_b) else side_b
        out.append((t, members[root == lighter].tolist()))
    return out


