"""Boundary local search on a partition: balance, then cut edges, then disruption.

Moves hand a border cell to a neighbouring territory; swaps exchange two border
cells. A territory never gives away its last cell nor a cell whose removal
splits it (checked locally, then by a search when the neighbours of the cell
do not touch each other). Locked cells and cells of overlays never move.

Balance minimises sum(phi(d)) over workload and potential deviations d of each
territory from its own target, in units of its tolerance band (tolerance x
target; |d| <= 1 is within tolerance); phi is quadratic
with a steep extra term past 0.9, so the worst territory is pulled in first.
Candidates are scored in bulk with numpy against the sums at the start of a
round and applied one by one after a scalar re-check against the current sums.
Everything runs in a fixed order (sorted candidates, stable sorts): no clock,
no randomness, so the result is a pure function of the start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from server.geo.balance.graph import Graph

_PENALTY = 50.0
_KNEE = 0.9
#: Inside this share of the tolerance band a deviation costs nothing: exact balance is not
#: worth ragged borders, and the compactness phase gets room to work.
_DEAD = 0.4
_EPS = 1e-12
_MAX_ROUNDS = 80
#: Balance after the compactness and disruption phases stays within this (in tolerance bands),
#: or the balance phase's own worst, whichever is larger.
_SLACK = 0.98
#: Cut edges (in finest sides) a move may add to bring an account back to its current territory.
_DISRUPTION_CUT = 1.0


@dataclass
class Problem:
    """What the search needs: immutable graph data plus the targets."""

    graph: Graph
    k: int
    workload: np.ndarray
    potential: np.ndarray
    target_w: np.ndarray  # per territory: the mean of the balanced territories, or a share
    target_p: np.ndarray  # proportional to the capacity of the territory's slot
    tol_w: float
    tol_p: float
    balanced: np.ndarray  # per territory: held to the tolerances (exceptions are not)
    frozen: np.ndarray  # per cell: never moves
    current: np.ndarray | None  # cell x territory: accounts now in the territory's label
    budget: int | None  # max accounts moved versus current


def _inverse(band: np.ndarray) -> np.ndarray:
    """1 / band where the band is positive, else 0 (no target: nothing to balance)."""
    out = np.zeros_like(band)
    np.divide(1.0, band, out=out, where=band > 0)
    return out


def phi(d: np.ndarray | float) -> np.ndarray | float:
    a = np.abs(d)
    inner = np.maximum(a - _DEAD, 0.0)
    excess = np.maximum(a - _KNEE, 0.0)
    return inner * inner + _PENALTY * excess * excess


class Search:
    def __init__(self, prob: Problem, part: np.ndarray) -> None:
        self.p = prob
        k = prob.k + 1  # cells without a territory (overlays, -1) sit in a frozen extra one
        part = np.where(part < 0, prob.k, part).astype(np.int64)
        self.part = part.tolist()
        self.part_np = part.copy()
        self.size = np.bincount(part, minlength=k).tolist()
        self.W = np.bincount(part, weights=prob.workload, minlength=k).tolist()
        self.P = np.bincount(part, weights=prob.potential, minlength=k).tolist()
        # per territory (plus the frozen extra one): target, and 1 / its tolerance band
        self.tw = np.r_[np.asarray(prob.target_w, dtype=float), 0.0]
        self.tp = np.r_[np.asarray(prob.target_p, dtype=float), 0.0]
        self.iw = _inverse(self.tw * prob.tol_w)
        self.ip = _inverse(self.tp * prob.tol_p)
        self.tw_l, self.tp_l = self.tw.tolist(), self.tp.tolist()
        self.iw_l, self.ip_l = self.iw.tolist(), self.ip.tolist()
        self.bal = np.r_[prob.balanced.astype(float), 0.0]
        self.bal_l = [*prob.balanced.tolist(), False]
        self.w = prob.workload.tolist()
        self.pt = prob.potential.tolist()
        self.frozen = prob.frozen.tolist()
        self.cur = None
        self.moved = 0
        if prob.current is not None:
            self.cur = np.column_stack((prob.current, np.zeros(len(part))))
            labelled = self.cur.sum(axis=1)
            self.moved = int((labelled - self.cur[np.arange(len(part)), part]).sum())

    # -- scores ------------------------------------------------------------------
    def devs(self) -> tuple[np.ndarray, np.ndarray]:
        return ((np.asarray(self.W) - self.tw) * self.iw * self.bal,
                (np.asarray(self.P) - self.tp) * self.ip * self.bal)

    def worst(self) -> float:
        dw, dp = self.devs()
        return float(max(np.abs(dw).max(), np.abs(dp).max()))

    def _terms(self, t, dwt, dpt):
        b = self.bal[t]
        W, P = np.asarray(self.W)[t], np.asarray(self.P)[t]
        return b * (phi((W + dwt - self.tw[t]) * self.iw[t])
                    + phi((P + dpt - self.tp[t]) * self.ip[t]))

    def move_gain(self, c, t, u):
        w, p = self.p.workload[c], self.p.potential[c]
        return (self._terms(t, -w, -p) - self._terms(t, 0.0, 0.0)
                + self._terms(u, w, p) - self._terms(u, 0.0, 0.0))

    def _term1(self, t: int, dw: float, dp: float) -> float:
        if not self.bal_l[t]:
            return 0.0
        a = (self.W[t] + dw - self.tw_l[t]) * self.iw_l[t]
        b = (self.P[t] + dp - self.tp_l[t]) * self.ip_l[t]
        a, b = abs(a), abs(b)
        ia, ib, ea, eb = a - _DEAD, b - _DEAD, a - _KNEE, b - _KNEE
        return ((ia * ia if ia > 0 else 0.0) + (ib * ib if ib > 0 else 0.0)
                + _PENALTY * ((ea * ea if ea > 0 else 0.0) + (eb * eb if eb > 0 else 0.0)))

    def gain1(self, t: int, u: int, w: float, p: float) -> float:
        """Scalar change of the objective when (w, p) goes from t to u."""
        return (self._term1(t, -w, -p) - self._term1(t, 0.0, 0.0)
                + self._term1(u, w, p) - self._term1(u, 0.0, 0.0))

    def dev_after(self, t: int, dw: float, dp: float) -> float:
        if not self.bal[t]:
            return 0.0
        return max(abs((self.W[t] + dw - self.tw_l[t]) * self.iw_l[t]),
                   abs((self.P[t] + dp - self.tp_l[t]) * self.ip_l[t]))

    # -- moves -------------------------------------------------------------------
    def candidates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        g = self.p.graph
        part = self.part_np
        ps, pd = part[g.src], part[g.dst]
        mask = (ps != pd) & ~self.p.frozen[g.src] & (pd < self.p.k)
        key = np.unique(g.src[mask] * self.p.k + pd[mask])
        c, u = key // self.p.k, key % self.p.k
        return c, part[c], u

    def touches(self, c: int, u: int) -> bool:
        part = self.part
        return any(part[x] == u for x in self.p.graph.nbrs[c])

    def keeps_connected(self, c: int, t: int) -> bool:
        part, nbrs = self.part, self.p.graph.nbrs
        ns = [x for x in nbrs[c] if part[x] == t]
        if len(ns) <= 1:
            return True
        inside = set(ns)
        seen = {ns[0]}
        stack = [ns[0]]
        while stack:
            x = stack.pop()
            for y in nbrs[x]:
                if y in inside and y not in seen:
                    seen.add(y)
                    stack.append(y)
        if len(seen) == len(ns):
            return True
        missing = inside - seen
        seen = {c, ns[0]}
        stack = [ns[0]]
        while stack:
            x = stack.pop()
            for y in nbrs[x]:
                if y not in seen and part[y] == t:
                    if y in missing:
                        missing.discard(y)
                        if not missing:
                            return True
                    seen.add(y)
                    stack.append(y)
        return False

    def moved_delta(self, c: int, t: int, u: int) -> int:
        if self.cur is None:
            return 0
        return int(self.cur[c, t] - self.cur[c, u])

    def can_move(self, c: int, t: int, u: int) -> bool:
        if self.size[t] <= 1 or not self.touches(c, u):
            return False
        if self.p.budget is not None and self.cur is not None:
            d = self.moved_delta(c, t, u)
            if d > 0 and self.moved + d > self.p.budget:
                return False
        return self.keeps_connected(c, t)

    def apply(self, c: int, t: int, u: int) -> None:
        self.moved += self.moved_delta(c, t, u)
        self.part[c] = u
        self.part_np[c] = u
        self.size[t] -= 1
        self.size[u] += 1
        w, p = self.w[c], self.pt[c]
        self.W[t] -= w
        self.W[u] += w
        self.P[t] -= p
        self.P[u] += p

    def balance_moves(self) -> int:
        applied_total = 0
        for _ in range(_MAX_ROUNDS):
            c, t, u = self.candidates()
            gain = self.move_gain(c, t, u)
            order = np.argsort(gain, kind="stable")
            order = order[gain[order] < -_EPS]
            applied = 0
            for i in order.tolist():
                ci, ti, ui = int(c[i]), int(t[i]), int(u[i])
                if self.part[ci] != ti or self.gain1(ti, ui, self.w[ci], self.pt[ci]) >= -_EPS:
                    continue
                if self.can_move(ci, ti, ui):
                    self.apply(ci, ti, ui)
                    applied += 1
            applied_total += applied
            if not applied:
                break
        return applied_total

    # -- swaps -------------------------------------------------------------------
    def balance_swaps(self) -> int:
        """For each pair of touching territories, the best exchange of two border cells."""
        c, t, u = self.candidates()
        if len(c) == 0:
            return 0
        w, p = self.p.workload, self.p.potential
        pair = t * self.p.k + u
        order = np.lexsort((c, pair))
        c, t, u, pair = c[order], t[order], u[order], pair[order]
        starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
        bounds = dict(zip(pair[starts].tolist(),
                          zip(starts.tolist(), np.r_[starts[1:], len(pair)].tolist(), strict=True),
                          strict=True))
        proposals = []
        for key, (a, b) in bounds.items():
            ti, ui = divmod(key, self.p.k)
            if ti > ui or (ui * self.p.k + ti) not in bounds or not (self.bal[ti] and self.bal[ui]):
                continue
            a2, b2 = bounds[ui * self.p.k + ti]
            cs, ds = c[a:b], c[a2:b2]
            dw = w[cs][:, None] - w[ds][None, :]  # what t loses and u gains
            dp = p[cs][:, None] - p[ds][None, :]
            gain = (self._terms(ti, -dw, -dp) - self._terms(ti, 0.0, 0.0)
                    + self._terms(ui, dw, dp) - self._terms(ui, 0.0, 0.0))
            best = int(np.argmin(gain))
            if gain.flat[best] < -_EPS:
                i, j = divmod(best, gain.shape[1])
                proposals.append((float(gain.flat[best]), int(cs[i]), int(ds[j]), ti, ui))
        applied = 0
        for _, ci, di, ti, ui in sorted(proposals):
            if self.part[ci] != ti or self.part[di] != ui:
                continue
            wd, pd = self.w[ci] - self.w[di], self.pt[ci] - self.pt[di]
            gain = self.gain1(ti, ui, wd, pd)
            if gain >= -_EPS or self.size[ti] <= 1 or self.size[ui] <= 1:
                continue
            if self.p.budget is not None and self.cur is not None:
                d = self.moved_delta(ci, ti, ui) + self.moved_delta(di, ui, ti)
                if d > 0 and self.moved + d > self.p.budget:
                    continue
            # t - c and u - d stay whole, and d (c) still touches t - c (u - d): both stay whole
            if not (self.keeps_connected(ci, ti) and self.keeps_connected(di, ui)
                    and any(self.part[x] == ti and x != ci for x in self.p.graph.nbrs[di])
                    and any(self.part[x] == ui and x != di for x in self.p.graph.nbrs[ci])):
                continue
            self.apply(ci, ti, ui)
            self.apply(di, ui, ti)
            applied += 1
        return applied

    # -- compactness and disruption ----------------------------------------------
    def _sides(self) -> tuple[np.ndarray, np.ndarray]:
        """Per (cell, territory) key: border length of the cell with that territory."""
        g = self.p.graph
        part = self.part_np
        key = g.src * (self.p.k + 1) + part[g.dst]
        uniq, inv = np.unique(key, return_inverse=True)
        return uniq, np.bincount(inv, weights=g.side)

    def _side_with(self, c: int, t: int) -> float:
        g, part = self.p.graph, self.part
        lo, hi = np.searchsorted(g.src, [c, c + 1])
        return float(sum(g.side[e] for e in range(lo, hi) if part[g.dst[e]] == t))

    def refine(self, limit: float, *, disruption: bool) -> int:
        """Moves that shorten the borders (or bring accounts back to their current
        territory) while every territory stays within ``limit`` tolerance bands."""
        applied_total = 0
        for _ in range(_MAX_ROUNDS):
            uniq, sides = self._sides()
            c, t, u = self.candidates()
            m = self.p.k + 1
            s_u = sides[np.searchsorted(uniq, c * m + u)]
            pos = np.minimum(np.searchsorted(uniq, c * m + t), len(uniq) - 1)
            s_t = np.where(uniq[pos] == c * m + t, sides[pos], 0.0)
            dcut = s_t - s_u
            if disruption:
                if self.cur is None:
                    return 0
                dmov = self.cur[c, t] - self.cur[c, u]
                ok = (dmov < 0) & (dcut <= _DISRUPTION_CUT)
                score = dmov + 1e-3 * dcut
            else:
                ok = dcut < -_EPS
                score = dcut
            idx = np.flatnonzero(ok)
            idx = idx[np.argsort(score[idx], kind="stable")]
            applied = 0
            for i in idx.tolist():
                ci, ti, ui = int(c[i]), int(t[i]), int(u[i])
                if self.part[ci] != ti:
                    continue
                w, p = self.w[ci], self.pt[ci]
                if self.dev_after(ti, -w, -p) > limit or self.dev_after(ui, w, p) > limit:
                    continue
                d = self._side_with(ci, ti) - self._side_with(ci, ui)
                if disruption:
                    if self.moved_delta(ci, ti, ui) >= 0 or d > _DISRUPTION_CUT:
                        continue
                elif d >= -_EPS:
                    continue
                if self.can_move(ci, ti, ui):
                    self.apply(ci, ti, ui)
                    applied += 1
            applied_total += applied
            if not applied:
                break
        return applied_total


def polish(prob: Problem, part: np.ndarray) -> np.ndarray:
    s = Search(prob, part)
    for _ in range(4):
        moved = s.balance_moves()
        swapped = s.balance_swaps()
        if not swapped and not moved:
            break
    limit = max(_SLACK, s.worst())
    s.refine(limit, disruption=False)
    if prob.current is not None:
        s.refine(max(limit, s.worst()), disruption=True)
        s.refine(max(limit, s.worst()), disruption=False)
    part = np.asarray(s.part, dtype=np.int64)
    return np.where(part == prob.k, -1, part)


def cut_length(graph: Graph, part: np.ndarray) -> float:
    return float(graph.side[part[graph.src] != part[graph.dst]].sum() / 2)
