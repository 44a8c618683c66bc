"""How cell sets cover each other: overlaps and holes (pure functions over compacted sets).

Territory cells are stored compacted, so two territories overlap when a cell
of one equals or lies inside a cell of the other, whatever their resolutions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import h3
from shapely.geometry import MultiPoint

from server.geo.cells import MAX_CELLS, cell_set, compact, resolution_of, uncompact


def _ancestor_in(cell: str, members: set[str], resolutions: list[int]) -> bool:
    res = resolution_of(cell)
    return any(r <= res and h3.cell_to_parent(cell, r) in members for r in resolutions)


def overlap(a: Iterable[str], b: Iterable[str]) -> list[str]:
    """The cells where two sets overlap, each at the finer of the two covering cells, sorted."""
    first, second = cell_set(a), cell_set(b)
    res_a = sorted({resolution_of(c) for c in first})
    res_b = sorted({resolution_of(c) for c in second})
    out = {c for c in first if _ancestor_in(c, second, res_b)}
    out |= {c for c in second if _ancestor_in(c, first, res_a)}
    return sorted(out)


def size_at(cells: Iterable[str], res: int) -> int:
    """How many cells of resolution ``res`` the set covers (cells finer than ``res`` count as one)."""
    return sum(h3.cell_to_children_size(c, res) if resolution_of(c) <= res else 1 for c in cell_set(cells))


def holes(cells: Iterable[str], *, max_cells: int | None = MAX_CELLS) -> list[tuple[dict[str, Any], list[str]]]:
    """Areas enclosed by the set but not in it: (GeoJSON Polygon outline, the hole's cells) each.

    Drawn at the finest resolution present. A hole is a ring of the union's
    outline that is not an outer edge, so gaps between neighbouring
    territories show up when their union is given.
    """
    members = cell_set(cells)
    if not members:
        return []
    finest = max(resolution_of(c) for c in members)
    fine = uncompact(members, finest, max_cells=max_cells)
    shape = h3.cells_to_h3shape(fine, tight=True)
    polys = shape.polys if isinstance(shape, h3.LatLngMultiPoly) else [shape]
    out = []
    for poly in polys:
        for ring in poly.holes:
            inside = sorted(h3.h3shape_to_cells(h3.LatLngPoly(ring), finest))
            if not inside:
                continue
            coords = [[lng, lat] for lat, lng in ring]
            coords.append(coords[0])
            out.append(({"type": "Polygon", "coordinates": [coords]}, inside))
    out.sort(key=lambda h: h[1][0])
    return out


def difference(a: Iterable[str], b: Iterable[str]) -> list[str]:
    """The cells of ``a`` outside ``b``, compacted: a cell partly covered by ``b`` is split along b's edge."""
    first, second = cell_set(a), cell_set(b)
    if not second:
        return compact(first)
    res_b = sorted({resolution_of(c) for c in second})
    finest_b = res_b[-1]
    # Ancestors of b's cells: a cell of ``a`` among them holds part of b and must be split.
    partly = {h3.cell_to_parent(c, r) for c in second for r in range(resolution_of(c))}
    out: list[str] = []
    todo = list(first)
    while todo:
        cell = todo.pop()
        if _ancestor_in(cell, second, res_b):
            continue
        if cell in partly and resolution_of(cell) < finest_b:
            todo.extend(h3.cell_to_children(cell, resolution_of(cell) + 1))
        else:
            out.append(cell)
    return compact(out)


def hull_cells(points: Sequence[tuple[float, float]], *, max_cells: int = 15_000,
               finest: int = 8, coarsest: int = 4) -> list[str]:
    """Cells covering the convex hull of ``(lat, lng)`` points and one ring around it.

    At the finest resolution (``coarsest``..``finest``) that keeps the cover
    within ``max_cells``: the land a plan "of all accounts" divides, holes
    between accounts included, so territories are drawn on a full grid.
    Every point's own cell is in the cover.
    """
    if not points:
        return []
    lats = [p[0] for p in points]
    hull = MultiPoint([(lng, lat) for lat, lng in points]).convex_hull
    area_km2 = hull.area * (111.32 ** 2) * math.cos(math.radians(sum(lats) / len(lats)))
    res = coarsest
    for r in range(finest, coarsest - 1, -1):
        if area_km2 / h3.average_hexagon_area(r, unit="km^2") + 6 * len(points) <= max_cells:
            res = r
            break
    cells = {h3.latlng_to_cell(lat, lng, res) for lat, lng in points}
    if hull.geom_type == "Polygon":
        ring = [(lat, lng) for lng, lat in hull.exterior.coords[:-1]]
        cells.update(h3.h3shape_to_cells(h3.LatLngPoly(ring), res))
    cells.update(n for c in list(cells) for n in h3.grid_disk(c, 1))
    return sorted(cells)
