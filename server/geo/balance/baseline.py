"""The "draw around the accounts" baseline: weighted k-means on account positions.

Every cell goes to the nearest of k centres found by Lloyd's algorithm on the
cells' account centres weighted by workload (k-means++ start, fixed seed). It
ignores balance, contiguity and the gap cap; it is here to be reported with the
same figures as ``balance()``.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from server.geo.balance.cover import build_cover
from server.geo.balance.graph import build_graph, unit_xyz
from server.geo.balance.plan import _Clock, _labels, evaluate
from server.geo.balance.types import BalanceInput, Plan

_ITERATIONS = 60


def kmeans_plan(inp: BalanceInput) -> Plan:
    clock = _Clock()
    cover = build_cover(inp)
    graph = build_graph(cover)
    clock.lap("cover+graph")
    k = inp.territories
    xyz = unit_xyz(cover.lat, cover.lng)
    weight = cover.workload if cover.workload.sum() > 0 else cover.accounts.astype(float)
    pts = np.flatnonzero(weight > 0)
    if len(pts) < k:
        pts = np.arange(graph.n)
        weight = np.ones(graph.n)
    centres = _kmeans(xyz[pts], weight[pts], k, np.random.default_rng(inp.seed))
    part = cKDTree(centres).query(xyz)[1].astype(np.int64)
    clock.lap("kmeans")
    labels, acc, locks = _labels(inp, cover, k)
    everything = np.ones(graph.n, dtype=bool)
    return evaluate(inp, cover, graph, None, part, everything, np.ones(k, dtype=bool), labels,
                    acc, locks, clock)


def _kmeans(x: np.ndarray, w: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    centres = [x[rng.choice(len(x), p=w / w.sum())]]
    d2 = ((x - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        p = w * d2
        centres.append(x[rng.choice(len(x), p=p / p.sum())] if p.sum() > 0 else x[len(centres)])
        d2 = np.minimum(d2, ((x - centres[-1]) ** 2).sum(axis=1))
    c = np.array(centres)
    for _ in range(_ITERATIONS):
        label = cKDTree(c).query(x)[1]
        sums = np.zeros_like(c)
        np.add.at(sums, label, x * w[:, None])
        mass = np.bincount(label, weights=w, minlength=k)
        moved = mass > 0
        new = c.copy()
        new[moved] = sums[moved] / mass[moved, None]
        if np.allclose(new, c):
            break
        c = new
    return c
