"""The territory balancer (server/geo/balance): properties on small grids, examples, bad input."""

from __future__ import annotations

import h3
import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.geo.balance import BalanceError, BalanceInput, Demand, Plan, Rep, balance
from server.geo.balance.baseline import kmeans_plan
from server.geo.balance.cover import bulk_parent
from server.geo.cells import compact, uncompact

CENTRE = h3.latlng_to_cell(39.0, -98.0, 7)
FAST = settings(max_examples=12, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def region(radius: int = 6, centre: str = CENTRE) -> list[str]:
    return sorted(h3.grid_disk(centre, radius))


def spread(cells: list[str], n: int, seed: int, prefix: str = "a") -> list[Demand]:
    """``n`` accounts at random resolution-9 cells inside ``cells``."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        cell = cells[int(rng.integers(len(cells)))]
        while h3.get_resolution(cell) < 9:
            kids = sorted(h3.cell_to_children(cell, h3.get_resolution(cell) + 1))
            cell = kids[int(rng.integers(len(kids)))]
        w = float(rng.gamma(4.0, 5.0))
        out.append(Demand(f"{prefix}{i}", cell, w, w * float(rng.lognormal(0, 0.4)) * 100))
    return out


def without_timings(plan: Plan) -> bytes:
    return msgspec.json.encode(msgspec.structs.replace(
        plan, report=msgspec.structs.replace(plan.report, elapsed={})))


@st.composite
def inputs(draw: st.DrawFn) -> BalanceInput:
    radius = draw(st.integers(3, 7))
    cells = region(radius)
    n = draw(st.integers(0, 400))
    k = draw(st.integers(1, min(6, len(cells))))
    seed = draw(st.integers(0, 3))
    with_region = draw(st.booleans()) or n == 0
    return BalanceInput(demands=spread(cells, n, draw(st.integers(0, 10**6))), territories=k,
                        region=cells if with_region else None, seed=seed, starts=2)


# -- properties ------------------------------------------------------------------

@FAST
@given(inputs())
def test_every_cell_assigned_once_and_territories_partition_it(inp: BalanceInput) -> None:
    plan = balance(inp)
    k = inp.territories
    assert set(plan.assignment.values()) <= set(range(k))
    assert [t.index for t in plan.territories] == list(range(k))
    finest = max(h3.get_resolution(c) for c in plan.assignment)
    seen: set[str] = set()
    for t in plan.territories:
        fine = set(uncompact(t.cells, finest))
        assert not fine & seen, "territories overlap"
        seen |= fine
        mine = [c for c, x in plan.assignment.items() if x == t.index]
        assert fine == set(uncompact(mine, finest)), "compacted cells are not the assignment"
        assert t.cells == compact(mine)
    assert seen == set(uncompact(list(plan.assignment), finest))
    if inp.region is not None:  # the cover is the region, refined where dense
        assert set(uncompact(list(plan.assignment), finest)) == set(uncompact(inp.region, finest))
    assert sum(t.accounts for t in plan.territories) + sum(
        e.accounts for e in plan.report.exceptions if e.kind == "overlay") \
        == len(inp.demands) - plan.report.outside


@FAST
@given(inputs())
def test_same_input_and_seed_give_the_same_plan(inp: BalanceInput) -> None:
    assert without_timings(balance(inp)) == without_timings(balance(inp))


@FAST
@given(inputs(), st.data())
def test_locked_cells_stay_with_their_territory(inp: BalanceInput, data: st.DataObject) -> None:
    cells = sorted(inp.region or region(3))
    a, b = data.draw(st.sampled_from(cells)), data.draw(st.sampled_from(cells))
    k = max(inp.territories, 2)
    locked = {a: "north"} if a == b else {a: "north", b: "south"}
    plan = balance(msgspec.structs.replace(inp, region=cells, territories=k, locked=locked))
    label = {t.index: t.label for t in plan.territories}
    for cell, lab in locked.items():
        # the cover may have split the locked cell: every piece of it is locked
        pieces = [c for c in plan.assignment
                  if c == cell or (h3.get_resolution(c) > 7 and h3.cell_to_parent(c, 7) == cell)]
        assert pieces
        assert {label[plan.assignment[c]] for c in pieces} == {lab}


@FAST
@given(st.integers(0, 10**6), st.integers(2, 5), st.sampled_from([0.0, 0.05, 0.1, 0.3]))
def test_disruption_budget_is_respected(seed: int, k: int, budget: float) -> None:
    cells = region(6)
    demands = spread(cells, 300, seed)
    before = balance(BalanceInput(demands=demands, territories=k, region=cells, seed=1))
    rng = np.random.default_rng(seed)
    shift = int(rng.integers(k))  # labels need not be territory numbers
    current = {d.id: f"T{(before.assignment[_owner(d.cell, before)] + shift) % k}"
               for d in demands}
    # the accounts change: weights shuffle, so the old plan is off balance
    moved = [msgspec.structs.replace(d, workload=d.workload * float(rng.uniform(0.2, 2.0)))
             for d in demands]
    plan = balance(BalanceInput(demands=moved, territories=k, region=cells, current=current,
                                disruption_budget=budget, seed=2))
    assert plan.report.accounts_moved_share <= budget + 1e-9
    assert plan.report.accounts_moved <= budget * len(demands) + 1e-9


def _owner(cell: str, plan: Plan) -> str:
    for r in range(9, 3, -1):
        if (p := h3.cell_to_parent(cell, r)) in plan.assignment:
            return p
    raise AssertionError(cell)


@settings(max_examples=200, deadline=None)
@given(st.floats(-80, 80), st.floats(-179, 179), st.integers(0, 9))
def test_bulk_parent_is_h3_cell_to_parent(lat: float, lng: float, res: int) -> None:
    cell = h3.latlng_to_cell(lat, lng, 9)
    got = bulk_parent(np.array([h3.str_to_int(cell)], dtype=np.uint64), res)
    assert h3.int_to_str(int(got[0])) == h3.cell_to_parent(cell, res)


# -- examples --------------------------------------------------------------------

def test_evenly_spread_accounts_meet_the_tolerances() -> None:
    cells = region(12)
    plan = balance(BalanceInput(demands=spread(cells, 3000, 1), territories=6, region=cells))
    r = plan.report
    assert r.met, r.problems
    assert r.max_workload_deviation <= 0.05
    assert r.max_potential_deviation <= 0.10
    assert r.all_contiguous
    assert r.compactness_mean >= 0.6
    assert r.exceptions == [] and r.outside == 0


def test_one_account_with_most_of_the_work_cannot_be_balanced() -> None:
    cells = region(6)
    demands = spread(cells, 200, 2)
    total = sum(d.workload for d in demands)
    heavy = Demand("whale", demands[0].cell, 9 * total, 1.0)
    plan = balance(BalanceInput(demands=[*demands, heavy], territories=4, region=cells))
    assert not plan.report.met
    assert any("workload deviation" in p for p in plan.report.problems)
    assert plan.report.lumps[0].id == "whale"
    assert plan.report.lumps[0].workload_share > 1


def test_k_1_is_one_territory_holding_everything() -> None:
    cells = region(4)
    demands = spread(cells, 50, 3)
    plan = balance(BalanceInput(demands=demands, territories=1, region=cells))
    assert set(plan.assignment.values()) == {0}
    (t,) = plan.territories
    assert t.accounts == 50 and t.contiguous
    assert plan.report.max_workload_deviation == 0.0 and plan.report.met


def test_a_remote_cluster_beyond_the_gap_cap_is_an_exception() -> None:
    home = region(8)
    far_centre = h3.latlng_to_cell(39.0, -95.0, 7)  # ~260 km east
    far = region(1, far_centre)
    demands = spread(home, 1000, 4) + spread(far, 20, 5, prefix="far")
    plan = balance(BalanceInput(demands=demands, territories=3, gap_cap_km=50))
    (exc,) = plan.report.exceptions
    assert exc.accounts == 20 and exc.gap_km > 50
    far_cells = set(uncompact(exc.cells, 9))
    assert {h3.cell_to_parent(d.cell, 9) for d in demands[-20:]} <= far_cells
    # not glued: no territory crosses more than the cap between its own accounts
    assert all(t.longest_gap_km <= 50 for t in plan.territories)
    assert plan.report.max_workload_deviation <= 0.05
    assert any(exc_i == 0 for t in plan.territories for exc_i in t.overlays)


def test_a_remote_cluster_big_enough_gets_its_own_territory() -> None:
    home = region(8)
    far = region(3, h3.latlng_to_cell(39.0, -95.0, 7))
    demands = spread(home, 1000, 4) + spread(far, 250, 5, prefix="far")  # ~0.6 of a mean
    plan = balance(BalanceInput(demands=demands, territories=3))
    (exc,) = plan.report.exceptions
    assert exc.kind == "own_territory"
    own = plan.territories[exc.territory]
    assert own.exception and own.accounts == 250
    assert plan.report.max_workload_deviation <= 0.05  # the others balance among themselves


def test_demands_outside_the_region_are_counted_not_balanced() -> None:
    cells = region(5)
    outside = spread(region(2, h3.latlng_to_cell(45.0, -90.0, 7)), 7, 6, prefix="out")
    plan = balance(BalanceInput(demands=spread(cells, 100, 6) + outside, territories=2,
                                region=cells))
    assert plan.report.outside == 7
    assert sum(t.accounts for t in plan.territories) == 100


def test_mixed_resolution_cover_is_coarse_in_empty_land_and_fine_in_dense_cores() -> None:
    coarse = [h3.cell_to_parent(CENTRE, 5)]
    dense = [Demand(f"d{i}", c, 10.0, 10.0)
             for i, c in enumerate(sorted(h3.cell_to_children(CENTRE, 9)))]
    plan = balance(BalanceInput(demands=dense, territories=2, region=coarse))
    per_res = plan.report.cells_per_resolution
    assert min(per_res) == 6 and max(per_res) == 9
    assert per_res[9] == 49 and per_res[6] == 6  # only the dense core is fine
    assert plan.report.met, plan.report.problems


def test_reps_go_to_the_territory_nearest_home() -> None:
    west, east = region(4, h3.latlng_to_cell(39.0, -98.2, 7)), region(4, h3.latlng_to_cell(39.0, -97.8, 7))
    cells = sorted(set(west) | set(east))
    demands = spread(west, 200, 7) + spread(east, 200, 8, prefix="e")
    reps = [Rep("east-rep", 39.0, -97.8), Rep("west-rep", 39.0, -98.2), Rep("nomad")]
    plan = balance(BalanceInput(demands=demands, territories=2, region=cells, reps=reps))
    by_rep = {t.rep_id: t for t in plan.territories}
    assert set(by_rep) == {"east-rep", "west-rep"}
    assert by_rep["east-rep"].travel_km < 20 and by_rep["west-rep"].travel_km < 20


def test_current_plan_labels_follow_the_territories() -> None:
    cells = region(6)
    demands = spread(cells, 300, 9)
    first = balance(BalanceInput(demands=demands, territories=3, region=cells))
    current = {d.id: f"T-{first.assignment[_owner(d.cell, first)]}" for d in demands}
    again = balance(BalanceInput(demands=demands, territories=3, region=cells, current=current))
    assert sorted(t.label for t in again.territories) == ["T-0", "T-1", "T-2"]
    assert again.report.accounts_moved_share <= 0.2


def test_kmeans_baseline_reports_the_same_figures() -> None:
    cells = region(8)
    inp = BalanceInput(demands=spread(cells, 800, 10), territories=4, region=cells)
    base, plan = kmeans_plan(inp), balance(inp)
    assert set(base.assignment) == set(plan.assignment)
    assert base.report.max_workload_deviation >= plan.report.max_workload_deviation


# -- bad input -------------------------------------------------------------------

@pytest.mark.parametrize(("change", "code"), [
    ({"demands": [], "region": None}, "empty_region"),
    ({"region": []}, "empty_region"),
    ({"territories": 0}, "too_many_territories"),
    ({"territories": 10_000}, "too_many_territories"),
    ({"region": ["not-a-cell"]}, "invalid_cell"),
    ({"region": [h3.cell_to_parent(CENTRE, 2)]}, "invalid_cell"),  # coarser than 4
    ({"demands": [Demand("x", "nope", 1, 1)]}, "invalid_cell"),
    ({"demands": [Demand("x", CENTRE, 1, 1)]}, "invalid_cell"),  # resolution 7, not 9
    ({"demands": [Demand("x", h3.cell_to_center_child(CENTRE, 9), -1, 1)]}, "invalid_demand"),
    ({"demands": [Demand("x", h3.cell_to_center_child(CENTRE, 9), 1, float("nan"))]},
     "invalid_demand"),
    ({"demands": [Demand("x", h3.cell_to_center_child(CENTRE, 9), 1, 1)] * 2}, "invalid_demand"),
    ({"locked": {h3.latlng_to_cell(10.0, 10.0, 7): "A"}}, "invalid_lock"),
    ({"locked": {c: f"L{i}" for i, c in enumerate(region(1))}, "territories": 3}, "invalid_lock"),
    ({"workload_tolerance": 0.0}, "invalid_parameter"),
    ({"potential_tolerance": -0.1}, "invalid_parameter"),
    ({"gap_cap_km": 0}, "invalid_parameter"),
    ({"disruption_budget": 1.5}, "invalid_parameter"),
    ({"starts": 0}, "invalid_parameter"),
])
def test_bad_input_raises_balance_error_with_its_code(change: dict, code: str) -> None:
    cells = region(3)
    base = BalanceInput(demands=spread(cells, 30, 11), territories=3, region=cells)
    with pytest.raises(BalanceError) as err:
        balance(msgspec.structs.replace(base, **change))
    assert err.value.code == code
    assert isinstance(err.value, ValueError) and err.value.message


def test_more_territories_than_region_cells_refines_before_refusing() -> None:
    cells = [CENTRE]
    plan = balance(BalanceInput(demands=spread(cells, 40, 12), territories=5, region=cells))
    assert len(set(plan.assignment.values())) == 5
