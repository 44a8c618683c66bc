"""Wire types of the balancer: the input, the plan, its report, and the one error.

msgspec Structs, so a plan can be stored as JSON and returned over HTTP as is.
Every list in a plan is sorted, so the same input and seed give the same bytes
(except ``Report.elapsed``, which holds wall-clock timings).
"""

from __future__ import annotations

import msgspec


class BalanceError(ValueError):
    """Bad input: ``code`` is machine-readable (``empty_region``, ``too_many_territories``,
    ``invalid_cell``, ``invalid_demand``, ``invalid_lock``, ``invalid_parameter`` for a
    tolerance, cap, budget, seed, starts or rep capacity out of range), ``message`` is for
    people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Demand(msgspec.Struct, frozen=True):
    id: str  # account id
    cell: str  # H3 cell at resolution 9 (server.geo.cells.POINT_RESOLUTION)
    workload: float  # hours per year to serve it (>= 0)
    potential: float  # revenue (>= 0)


class Rep(msgspec.Struct, frozen=True):
    id: str
    lat: float | None = None  # home; None = unknown (costs nothing in the assignment)
    lng: float | None = None
    capacity: float = 1.0  # FTE (> 0); with one rep per territory, targets follow it


class BalanceInput(msgspec.Struct, frozen=True):
    demands: list[Demand]
    territories: int  # k
    reps: list[Rep] = []  # one per territory with unequal capacities: unequal targets
    region: list[str] | None = None  # cells (resolutions 4..9, mixed); None = from the demands
    workload_tolerance: float = 0.05
    potential_tolerance: float = 0.10
    locked: dict[str, str] = {}  # cell -> label of the current territory it must stay with
    current: dict[str, str] = {}  # account id -> label of its current territory
    disruption_budget: float | None = None  # max share of accounts that may move vs current
    gap_cap_km: float = 50.0  # longest stretch of empty land a territory may cross
    seed: int = 0
    starts: int = 4  # seeded METIS starts, each polished, best kept


class TerritoryResult(msgspec.Struct, frozen=True):
    index: int
    cells: list[str]  # compacted (server.geo.cells.compact), overlay cells included
    workload: float  # figures below are over the territory's own cells, overlays excluded
    potential: float
    accounts: int
    rep_id: str | None
    label: str | None  # the current territory it continues (max overlap), if any
    contiguous: bool  # one piece in the balancing graph (touching, or islands joined within the cap)
    compactness: float  # Polsby-Popper relative to a hex disk of as many cells (disk = 1.0)
    longest_gap_km: float  # longest stretch of empty land crossed between its accounts
    gap_width_cells: int  # cells across that stretch (1 = a one-cell corridor); 0 if no gap
    travel_km: float  # workload-weighted mean distance from the rep's home (or the centroid),
    # overlays included: the rep drives to them
    exception: bool = False  # a remote cluster's own territory, not held to the tolerances
    overlays: list[int] = []  # indices into Report.exceptions served from here
    # What the territory is balanced to: the mean of the balanced territories, or, with one
    # rep per territory and unequal capacities, total x capacity / total capacity (the
    # capacity of its slot; its rep has that capacity). 0.0 in plans stored before targets.
    target_workload: float = 0.0
    target_potential: float = 0.0


class Lump(msgspec.Struct, frozen=True):
    cell: str
    id: str | None  # the account, or None for a finest-resolution cell of several accounts
    workload_share: float  # of the target of the territory holding it (the mean territory
    # when capacities are equal)
    potential_share: float


class RemoteCluster(msgspec.Struct, frozen=True):
    """Accounts that cannot reach a territory's mean without crossing more than the gap cap."""

    cells: list[str]  # compacted
    workload: float
    potential: float
    accounts: int
    gap_km: float  # empty land to the nearest other cluster
    kind: str  # "own_territory" (its own territory, under target) or "overlay"
    territory: int  # its own territory, or the one it is listed with as an overlay
    travel_km: float = 0.0  # workload-weighted distance from that territory's rep (or centre)


class Report(msgspec.Struct, frozen=True):
    max_workload_deviation: float  # max |x - target| / target over the balanced territories,
    # each against its own target (TerritoryResult.target_workload; the mean when capacities
    # are equal)
    max_potential_deviation: float
    all_contiguous: bool
    compactness_mean: float
    compactness_min: float
    weighted_travel_km: float
    accounts_moved: int  # versus ``current``
    accounts_moved_share: float  # of the accounts that have a current territory
    lumps: list[Lump]
    exceptions: list[RemoteCluster]
    met: bool  # tolerances met, no gap over the cap, disruption within budget
    problems: list[str]
    seed: int
    cells_per_resolution: dict[int, int]
    outside: int  # demands outside the region, ignored
    elapsed: dict[str, float]  # seconds per phase (the only non-deterministic field)


class Plan(msgspec.Struct, frozen=True):
    assignment: dict[str, int]  # every cell of the working mixed-resolution set -> territory
    territories: list[TerritoryResult]
    report: Report
