"""H3 cells and coordinate order: the one module that converts between them.

h3 takes (lat, lng); GeoJSON and PostGIS take [lng, lat]. Everything else in
the code base calls these pure functions (no database, no I/O) instead of h3.
Functions taking ``lat, lng`` or a ``(lat, lng)`` pair speak h3's order; the
words *position*, *ring* and *geometry* mean GeoJSON's [lng, lat]. Bad input,
wrong types included, raises ``ValueError`` with a message fit for an API error.

Cell sets (``compact``, ``uncompact``, ``cells_to_geojson``, ``adjacency``...)
accept duplicates, any spelling h3 parses (upper case, ``0x``) and mixed
resolutions, and return canonical cells, sorted, so the same input gives the
same output bytes. ``disk`` keeps h3's own deterministic order, which the demo
data generator relies on.
GeoJSON outlines and polygons live in ``server.geo.outlines``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import h3

#: Accounts and leads store their cell at this resolution (~0.1 km² hexagons);
#: coarser territory cells are its parents.
POINT_RESOLUTION = 9
#: Default resolution territories are drawn and balanced at (~5 km² hexagons).
TERRITORY_RESOLUTION = 7
#: Coarsest and finest resolution a caller may choose for territory cells:
#: ~1,770 km² hexagons for empty land, down to the account cell itself (a
#: finer cell could never hold an account). Compacted storage may hold
#: coarser parents than MIN_TERRITORY_RESOLUTION; that is storage, not choice.
MIN_TERRITORY_RESOLUTION = 4
MAX_TERRITORY_RESOLUTION = POINT_RESOLUTION
#: Largest cell list a function will build (~70 MB of strings): a request for
#: more (a state at resolution 12) is refused instead of exhausting memory.
MAX_CELLS = 1_000_000
#: How far from ``near`` a polygon may lie before a swapped reading is checked.
SWAP_MARGIN_KM = 100.0
#: South of this no customer lives (Antarctica): a GeoJSON latitude there is a swap.
SOUTHERN_LIMIT_LAT = -60.0

_H3_RESOLUTIONS = (0, 15)


def check_resolution(res: int, coarsest: int = MIN_TERRITORY_RESOLUTION,
                     finest: int = MAX_TERRITORY_RESOLUTION) -> int:
    """``res`` if it is an int between ``coarsest`` and ``finest``, else ValueError."""
    if isinstance(res, bool) or not isinstance(res, int) or not coarsest <= res <= finest:
        raise ValueError(f"resolution must be an integer from {coarsest} to {finest}, got {res!r}")
    return res


def checked_resolution(res: int) -> int:
    return check_resolution(res, *_H3_RESOLUTIONS)


def valid_latlng(lat: float, lng: float) -> bool:
    return -90.0 <= lat <= 90.0 and -180.0 <= lng <= 180.0


def checked_latlng(lat: float, lng: float) -> tuple[float, float]:
    if not valid_latlng(lat, lng):
        raise ValueError(f"coordinates out of range: lat={lat}, lng={lng}")
    return lat, lng


def is_valid_cell(cell: object) -> bool:
    return isinstance(cell, str) and h3.is_valid_cell(cell)


def _cell(cell: object) -> str:
    """The canonical spelling of ``cell`` (h3 also parses "0x..." and upper case)."""
    if not is_valid_cell(cell):
        raise ValueError(f"not an H3 cell: {cell!r}")
    return h3.int_to_str(h3.str_to_int(cell))


def cell_set(cells: Iterable[str]) -> set[str]:
    if isinstance(cells, str):  # one cell is not a set of 15 characters
        raise ValueError("expected a collection of H3 cells, got one string")  # noqa: TRY004
    return {_cell(c) for c in cells}


def resolution_of(cell: str) -> int:
    return h3.get_resolution(_cell(cell))


# -- points ------------------------------------------------------------------

def latlng_to_cell(lat: float, lng: float, resolution: int = POINT_RESOLUTION) -> str:
    checked_latlng(lat, lng)
    return h3.latlng_to_cell(lat, lng, checked_resolution(resolution))


def cell_to_latlng(cell: str) -> tuple[float, float]:
    """The cell's centre as (lat, lng)."""
    return h3.cell_to_latlng(_cell(cell))


def position_to_latlng(position: Sequence[float]) -> tuple[float, float]:
    """A GeoJSON position [lng, lat] (altitude ignored) as (lat, lng)."""
    return parse_position(position, "position")[::-1]


def latlng_to_position(lat: float, lng: float) -> list[float]:
    """(lat, lng) as a GeoJSON position [lng, lat]."""
    checked_latlng(lat, lng)
    return [lng, lat]


def geojson_point_to_cell(geometry: Mapping[str, Any], res: int = POINT_RESOLUTION) -> str:
    if not isinstance(geometry, Mapping) or geometry.get("type") != "Point":
        raise ValueError("expected a GeoJSON Point")
    return latlng_to_cell(*position_to_latlng(geometry.get("coordinates")), res)


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lng) points."""
    return h3.great_circle_distance(checked_latlng(*a), checked_latlng(*b), unit="km")


def cell_area_km2(cell: str) -> float:
    """Area of one cell; cells vary ~1.6x over the globe, so sum areas, never count cells."""
    return h3.cell_area(_cell(cell), unit="km^2")


def cell_outline(cell: str) -> list[list[float]]:
    """The cell's boundary as a closed GeoJSON ring of [lng, lat] positions."""
    ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(_cell(cell))]
    return [*ring, ring[0]]


def parse_position(position: Any, where: str) -> tuple[float, float]:
    if (not isinstance(position, (list, tuple)) or len(position) < 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                       and math.isfinite(v) for v in position[:2])):
        raise ValueError(f"{where}: expected [lng, lat] numbers, got {position!r}")
    lng, lat = float(position[0]), float(position[1])
    if -90 <= lng <= 90 and 90 < abs(lat) <= 180:
        raise ValueError(f"{where} {list(position)} looks like [lat, lng]: "
                         "GeoJSON positions are [lng, lat]")
    if not valid_latlng(lat, lng):
        raise ValueError(f"{where} {list(position)} out of range: lng must be within ±180, "
                         "lat within ±90")
    return lng, lat


# -- hierarchy -----------------------------------------------------------------

def cell_to_parent(cell: str, resolution: int) -> str:
    """The ancestor at ``resolution`` (the cell itself at its own resolution)."""
    if type(resolution) is int:  # hot (lookups walk every resolution): validate on failure
        try:
            return h3.cell_to_parent(cell, resolution)
        except (ValueError, TypeError, OverflowError):
            pass
    cell, resolution = _cell(cell), checked_resolution(resolution)
    raise ValueError(f"{cell} has resolution {h3.get_resolution(cell)}, "
                     f"it has no parent at finer resolution {resolution}")


def _children_count(cell: str, res: int) -> int:
    if res < h3.get_resolution(cell):
        raise ValueError(f"{cell} has resolution {h3.get_resolution(cell)}, "
                         f"finer than the target resolution {res}")
    return h3.cell_to_children_size(cell, res)


def guard_size(count: int, res: int, max_cells: int | None) -> None:
    if max_cells is not None and count > max_cells:
        raise ValueError(f"that is about {count:,} cells at resolution {res}, more than "
                         f"the limit of {max_cells:,}: use a coarser resolution")


def cell_to_children(cell: str, res: int, *, max_cells: int | None = MAX_CELLS) -> list[str]:
    cell, res = _cell(cell), checked_resolution(res)
    guard_size(_children_count(cell, res), res, max_cells)
    return sorted(h3.cell_to_children(cell, res))


def compact(cells: Iterable[str]) -> list[str]:
    """The fewest cells covering the same area: every full set of siblings becomes its parent.

    Mixed resolutions, duplicates and cells inside other cells of the set are
    accepted; the result never holds a cell together with its ancestor.
    """
    members = cell_set(cells)
    by_res: dict[int, set[str]] = {}
    for cell in members:
        by_res.setdefault(h3.get_resolution(cell), set()).add(cell)
    if len(by_res) <= 1:
        return sorted(h3.compact_cells(list(members)))
    members = _drop_covered(members, sorted(by_res))
    for res in range(max(by_res), 0, -1):  # finest first, so merges cascade upwards
        level = {c for c in members if h3.get_resolution(c) == res}
        siblings: dict[str, int] = {}
        for cell in level:
            parent = h3.cell_to_parent(cell, res - 1)
            siblings[parent] = siblings.get(parent, 0) + 1
        for parent, count in siblings.items():
            if count == h3.cell_to_children_size(parent, res):  # 6 under a pentagon
                members -= set(h3.cell_to_children(parent, res))
                members.add(parent)
    return sorted(members)


def _drop_covered(members: set[str], resolutions: list[int]) -> set[str]:
    return {c for c in members if _covering(c, members, resolutions) is None}


def _covering(cell: str, members: set[str], resolutions: list[int]) -> str | None:
    """A strict ancestor of ``cell`` in ``members``, if any."""
    res = h3.get_resolution(cell)
    for r in resolutions:
        if r >= res:
            break
        if (parent := h3.cell_to_parent(cell, r)) in members:
            return parent
    return None


def child_range(cell: str, res: int = POINT_RESOLUTION) -> tuple[str, str]:
    """The first and last descendant of ``cell`` at ``res``.

    At one resolution the descendants of a cell are one contiguous run of H3
    indexes (the parent's digits lead, the child digits follow), and indexes
    of one resolution sort as their hex text, so ``h3_cell BETWEEN lo AND hi``
    selects exactly the cell's points from an index on ``h3_cell``.
    """
    cell, res = _cell(cell), checked_resolution(res)
    size = _children_count(cell, res)
    return h3.cell_to_center_child(cell, res), h3.child_pos_to_cell(cell, res, size - 1)


def uncompact(cells: Iterable[str], res: int, *, max_cells: int | None = MAX_CELLS) -> list[str]:
    """Every cell at ``res`` inside the set; a cell finer than ``res`` is a ValueError."""
    members, res = cell_set(cells), checked_resolution(res)
    for cell in members:
        _children_count(cell, res)  # refuses a finer cell even when a coarser one covers it
    members = _drop_covered(members, sorted({h3.get_resolution(c) for c in members}))
    guard_size(sum(_children_count(c, res) for c in members), res, max_cells)
    return sorted(h3.uncompact_cells(list(members), res))


# -- grid ----------------------------------------------------------------------

def _k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")
    return k


def disk(cell: str, k: int) -> list[str]:
    """Cells within ``k`` steps, in h3's deterministic order (the centre, then ring by
    ring, except where a pentagon distorts the grid)."""
    return list(h3.grid_disk(_cell(cell), _k(k)))


def ring(cell: str, k: int) -> list[str]:
    """Cells exactly ``k`` steps away (6k of them away from pentagons), sorted."""
    return sorted(h3.grid_ring(_cell(cell), _k(k)))


def neighbors(cell: str) -> list[str]:
    """The cells sharing an edge with ``cell`` (6, or 5 around a pentagon), sorted."""
    return ring(cell, 1)


def grid_distance(a: str, b: str) -> int:
    """Steps between two cells of one resolution (ValueError if too far for h3 to tell)."""
    try:
        return h3.grid_distance(_cell(a), _cell(b))
    except h3.H3BaseException as exc:
        raise ValueError(f"no grid distance between {a} and {b}: {type(exc).__name__}") from None


def disk_around(lat: float, lng: float, radius_km: float, res: int = POINT_RESOLUTION) -> list[str]:
    """Cells at ``res`` covering every point within ``radius_km`` of (lat, lng), sorted.

    A superset: filter candidates by exact ``distance_km`` afterwards. A cell k
    steps away has its centre at least k * spacing * sqrt(3)/2 away, and a
    point lies within one circumradius of its cell's centre; one step more
    absorbs the grid's distortion.
    """
    if not (isinstance(radius_km, (int, float)) and 0 <= radius_km < 1000):
        raise ValueError(f"radius must be from 0 to 1000 km, got {radius_km!r}")
    centre = latlng_to_cell(lat, lng, res)
    c = h3.cell_to_latlng(centre)
    spacing = min(h3.great_circle_distance(c, h3.cell_to_latlng(n), unit="km")
                  for n in h3.grid_ring(centre, 1))
    reach = max(h3.great_circle_distance(c, v, unit="km") for v in h3.cell_to_boundary(centre))
    k = math.ceil((radius_km + reach) / (spacing * math.sqrt(3) / 2)) + 1
    return sorted(h3.grid_disk(centre, k))


def adjacency(cells: Iterable[str]) -> dict[str, list[str]]:
    """Cell -> the cells of the set it touches; sorted, works across resolutions.

    Two cells touch when a grid neighbour of the finer one lies inside the
    coarser one (or is it, at one resolution): membership by ancestry, the same
    rule that places an account in a territory. Overlapping cells (one inside
    another) are a ValueError: compact them first.
    """
    members = cell_set(cells)
    resolutions = sorted({h3.get_resolution(c) for c in members})
    if len(resolutions) == 1:  # one resolution: neighbours are ring members (the common, big case)
        return {c: sorted(n for n in h3.grid_ring(c, 1) if n in members) for c in sorted(members)}
    graph: dict[str, set[str]] = {c: set() for c in members}
    for cell in members:
        res = h3.get_resolution(cell)
        coarser = [r for r in reversed(resolutions) if r < res]
        if coarser and (outer := _covering(cell, members, resolutions)) is not None:
            raise ValueError(f"cells overlap: {cell} lies inside {outer}")
        for near in h3.grid_ring(cell, 1):
            if near in members:  # same resolution: the other side adds the reverse edge
                graph[cell].add(near)
                continue
            for r in coarser:
                if (owner := h3.cell_to_parent(near, r)) in members:
                    graph[cell].add(owner)
                    graph[owner].add(cell)
                    break
    return {c: sorted(graph[c]) for c in sorted(graph)}


def connected_components(cells: Iterable[str]) -> list[list[str]]:
    """The set split into touching groups: largest first, each sorted (deterministic)."""
    graph = adjacency(cells)
    seen: set[str] = set()
    components = []
    for start in graph:
        if start in seen:
            continue
        seen.add(start)
        stack, component = [start], []
        while stack:
            cell = stack.pop()
            component.append(cell)
            for near in graph[cell]:
                if near not in seen:
                    seen.add(near)
                    stack.append(near)
        components.append(sorted(component))
    return sorted(components, key=lambda c: (-len(c), c[0]))


def is_contiguous(cells: Iterable[str]) -> bool:
    """One touching group. The empty set is not: it is no territory at all."""
    return len(connected_components(cells)) == 1
