"""Rep capacity (FTE) in the territory balancer: unequal targets, reps matched to their slots."""

from __future__ import annotations

import math

import h3
import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.geo.balance import (
    BalanceError,
    BalanceInput,
    Plan,
    Rep,
    TerritoryResult,
    balance,
)
from server.geo.balance.assign import assign_reps, haversine_km, slot_capacities
from server.geo.cells import uncompact
from tests.geo.test_balance import FAST, _owner, region, spread, without_timings

CELLS = region(12)
DEMANDS = spread(CELLS, 3000, 1)
HALF = [Rep("a", capacity=1.0), Rep("b", capacity=1.0), Rep("c", capacity=0.5),
        Rep("d", capacity=0.5)]


def plan_with(reps: list[Rep], **kw: object) -> Plan:
    return balance(BalanceInput(demands=DEMANDS, territories=len(reps), region=CELLS, reps=reps,
                                **kw))


def capacity_of(plan: Plan, reps: list[Rep]) -> dict[int, float]:
    cap = {r.id: r.capacity for r in reps}
    return {t.index: cap[t.rep_id] for t in plan.territories}


def test_half_time_reps_get_half_size_territories_within_tolerance() -> None:
    plan = plan_with(HALF)
    r = plan.report
    assert r.met, r.problems
    assert r.all_contiguous and r.compactness_mean >= 0.6
    total_w = sum(d.workload for d in DEMANDS)
    total_p = sum(d.potential for d in DEMANDS)
    cap = capacity_of(plan, HALF)
    assert sorted(cap.values()) == [0.5, 0.5, 1.0, 1.0]
    for t in plan.territories:
        # the target is the territory's share by its rep's capacity (3 FTE in all)
        assert t.target_workload == pytest.approx(total_w * cap[t.index] / 3)
        assert t.target_potential == pytest.approx(total_p * cap[t.index] / 3)
        assert abs(t.workload - t.target_workload) <= 0.05 * t.target_workload
        assert abs(t.potential - t.target_potential) <= 0.10 * t.target_potential
    # deviations in the report are against each territory's own target
    assert r.max_workload_deviation == pytest.approx(
        max(abs(t.workload / t.target_workload - 1) for t in plan.territories))
    assert r.max_workload_deviation <= 0.05 and r.max_potential_deviation <= 0.10
    full = [t.workload for t in plan.territories if cap[t.index] == 1.0]
    half = [t.workload for t in plan.territories if cap[t.index] == 0.5]
    assert max(half) < 0.56 * min(full) and min(half) > 0.45 * max(full)


def test_capacities_give_the_same_plan_every_time_whatever_the_rep_order() -> None:
    a = plan_with(HALF)
    assert without_timings(a) == without_timings(plan_with(HALF))
    assert a.assignment == plan_with(HALF[::-1]).assignment


@pytest.mark.parametrize("capacity", [1.0, 0.5, 2.0])
def test_equal_capacities_reproduce_the_plan_without_capacities(capacity: float) -> None:
    # reps without a home: the assignment names them but changes nothing else
    reps = [Rep(f"r{i}", capacity=capacity) for i in range(5)]
    base = balance(BalanceInput(demands=DEMANDS, territories=5, region=CELLS))
    same = plan_with(reps)
    assert same.assignment == base.assignment
    strip = [msgspec.structs.replace(t, rep_id=None) for t in same.territories]
    assert strip == base.territories
    assert without_timings(msgspec.structs.replace(same, territories=strip)) == without_timings(base)
    mean = sum(t.workload for t in base.territories) / 5
    assert {t.target_workload for t in base.territories} == {mean}


def test_capacities_without_one_rep_per_territory_are_ignored_and_said() -> None:
    reps = [*HALF, Rep("e", capacity=0.25)]
    plan = balance(BalanceInput(demands=DEMANDS, territories=4, region=CELLS, reps=reps))
    base = balance(BalanceInput(demands=DEMANDS, territories=4, region=CELLS))
    assert plan.assignment == base.assignment
    assert any(p.startswith("rep capacities ignored") for p in plan.report.problems)
    assert plan.report.met == base.report.met


def test_the_search_reaches_unequal_targets_from_an_equal_current_plan() -> None:
    # with a disruption budget the only start is the current plan (drawn for equal reps):
    # the local search alone has to move it onto the unequal targets
    equal = balance(BalanceInput(demands=DEMANDS, territories=4, region=CELLS))
    current = {d.id: f"T{equal.assignment[_owner(d.cell, equal)]}" for d in DEMANDS}
    plan = plan_with(HALF, current=current, disruption_budget=1.0)
    assert plan.report.met, plan.report.problems
    assert plan.report.max_workload_deviation <= 0.05
    assert sorted(t.label for t in plan.territories) == ["T0", "T1", "T2", "T3"]


def test_reps_only_take_slots_made_for_their_capacity() -> None:
    # the half-time reps live next to the full-size territories (0, 1): travel alone would
    # send them there; capacity keeps them on the half-size slots (2, 3)
    lat, lng = np.array([39.0, 39.0, 41.0, 41.0]), np.array([-98.0, -97.0, -98.0, -97.0])
    reps = [Rep("full-a", 41.0, -98.0, 1.0), Rep("full-b", 41.0, -97.0, 1.0),
            Rep("half-a", 39.0, -97.0, 0.5), Rep("half-b", 39.0, -98.0, 0.5)]
    caps = slot_capacities(reps, 4)
    assert caps.tolist() == [1.0, 1.0, 0.5, 0.5]
    assert assign_reps(reps, lat, lng) == ["half-b", "half-a", "full-a", "full-b"]
    assert assign_reps(reps, lat, lng, caps) == ["full-a", "full-b", "half-b", "half-a"]


def test_half_time_reps_are_placed_by_travel_among_half_size_territories() -> None:
    reps = [Rep("a", 39.0, -98.0, 1.0), Rep("b", 39.0, -98.0, 1.0),
            Rep("west", 39.0, -98.3, 0.5), Rep("east", 39.0, -97.7, 0.5)]
    plan = plan_with(reps)
    halves = {t.rep_id: t for t in plan.territories if t.rep_id in ("west", "east")}
    assert set(halves) == {"west", "east"}
    assert halves["west"].target_workload == halves["east"].target_workload

    def km(rep: Rep, t: TerritoryResult) -> float:
        lat, lng = np.mean([h3.cell_to_latlng(c) for c in uncompact(t.cells, 7)], axis=0)
        return float(haversine_km(np.array([rep.lat]), np.array([rep.lng]), np.array([lat]),
                                  np.array([lng]))[0])

    west, east = reps[2], reps[3]
    chosen = km(west, halves["west"]) + km(east, halves["east"])
    swapped = km(west, halves["east"]) + km(east, halves["west"])
    assert chosen <= swapped + 1.0


@pytest.mark.parametrize("capacity", [0.0, -1.0, math.nan, math.inf])
def test_capacity_must_be_positive(capacity: float) -> None:
    reps = [*HALF[:3], Rep("bad", capacity=capacity)]
    with pytest.raises(BalanceError) as err:
        plan_with(reps)
    assert err.value.code == "invalid_parameter"
    assert "capacity" in err.value.message


def test_plans_stored_before_targets_still_decode() -> None:
    new = plan_with(HALF).territories[0]
    old = msgspec.to_builtins(new)
    del old["target_workload"], old["target_potential"]
    back = msgspec.json.decode(msgspec.json.encode(old), type=TerritoryResult)
    assert back.target_workload == 0.0 and back.target_potential == 0.0
    assert back.workload == new.workload


@FAST
@given(st.lists(st.sampled_from([0.5, 0.75, 1.0]), min_size=2, max_size=5), st.integers(0, 3))
def test_every_rep_holds_a_slot_of_their_capacity(caps: list[float], seed: int) -> None:
    cells = region(8)
    reps = [Rep(f"r{i}", capacity=c) for i, c in enumerate(caps)]
    inp = BalanceInput(demands=spread(cells, 600, seed), territories=len(caps), region=cells,
                       reps=reps, seed=seed, starts=2)
    plan = balance(inp)
    assert without_timings(plan) == without_timings(balance(inp))
    assert sorted(t.rep_id for t in plan.territories) == sorted(r.id for r in reps)
    cap = capacity_of(plan, reps)
    held = [t for t in plan.territories if not t.exception]
    unit = sum(t.target_workload for t in held) / sum(cap[t.index] for t in held)
    for t in held:
        assert t.target_workload == pytest.approx(unit * cap[t.index])
