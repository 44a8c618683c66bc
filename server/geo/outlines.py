"""GeoJSON outlines of cell sets, and the cells inside GeoJSON polygons.

GeoJSON speaks [lng, lat]; h3 (lat, lng). A swapped GeoJSON position cannot always be told from a right one: [10, 20]
is a valid point in Chad and, swapped, one in Sudan. ``geojson_to_cells``
therefore refuses what it can prove or strongly suspect and lets the caller
supply the rest:

1. a second value outside [-90, 90] whose first value is a latitude: "looks
   like [lat, lng]" (every swapped position west of 90°W or east of 90°E:
   the western Americas, East Asia, Australia);
2. a latitude south of 60°S (Antarctica, no customers): refused as probably
   swapped unless ``allow_antarctic=True`` (catches swapped positions between
   60°W and 90°W: the eastern United States and Canada, the Andes);
3. ``near=(lat, lng)``, where the caller expects the area (the org's accounts,
   the region): if reading the positions swapped puts the area at least twice
   as close, and the area as written lies more than 100 km from ``near``, it is
   refused (Europe, Africa, India, where both readings are plausible).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Any

import h3

from server.geo.cells import (
    MAX_CELLS,
    SOUTHERN_LIMIT_LAT,
    SWAP_MARGIN_KM,
    cell_set,
    checked_latlng,
    checked_resolution,
    distance_km,
    guard_size,
    parse_position,
    uncompact,
)


def cells_to_geojson(cells: Iterable[str], *, precision: int | None = 6,
                     max_cells: int | None = MAX_CELLS) -> dict[str, Any]:
    """The outline of a cell set as a GeoJSON MultiPolygon, [lng, lat].

    One polygon per touching group, holes kept, rings closed, exteriors
    counter-clockwise (RFC 7946). Mixed resolutions are drawn at the finest
    resolution present (H3 children do not tile their parent exactly, so the
    fine cells define the edge). ``precision`` decimals: 6 is ~0.1 m and keeps
    offline map packages small. Sets crossing the antimeridian or holding a
    pole get h3's raw outline (not split at ±180°).
    """
    members = cell_set(cells)
    if not members:
        return {"type": "MultiPolygon", "coordinates": []}
    finest = max(h3.get_resolution(c) for c in members)
    fine = uncompact(members, finest, max_cells=max_cells)
    geo = h3.h3shape_to_geo(h3.cells_to_h3shape(fine, tight=False))

    def pos(p: Sequence[float]) -> list[float]:
        return [round(p[0], precision), round(p[1], precision)] if precision is not None \
            else [p[0], p[1]]

    return {"type": "MultiPolygon",
            "coordinates": [[[pos(p) for p in r] for r in poly] for poly in geo["coordinates"]]}


def geojson_to_cells(geometry: Mapping[str, Any], res: int, *,
                     near: tuple[float, float] | None = None, allow_antarctic: bool = False,
                     max_cells: int | None = MAX_CELLS) -> list[str]:
    """Cells at ``res`` whose centre lies inside a GeoJSON Polygon or MultiPolygon, sorted.

    Validated first (ValueError naming the polygon, ring and position): type,
    rings of at least four positions, closed, with area, no edge crossing the
    antimeridian (split such polygons at ±180° as RFC 7946 asks), no two edges
    crossing, coordinates in range and in [lng, lat] order (see the module
    docstring for how swaps are caught; ``near`` is (lat, lng)). Holes are
    honoured; overlapping polygons of a MultiPolygon are merged. An empty
    geometry, or one too small to hold a cell centre, gives [].
    """
    polygons = _polygons(geometry, allow_antarctic)
    res = checked_resolution(res)
    if not polygons:
        return []
    if near is not None:
        _refuse_swapped(polygons, checked_latlng(*near))
    area = sum(_ring_area_km2(rings[0]) - sum(_ring_area_km2(h) for h in rings[1:])
               for rings in polygons)
    guard_size(round(area / h3.average_hexagon_area(res, unit="km^2")), res, max_cells)
    shape = h3.LatLngMultiPoly(*(
        h3.LatLngPoly(*([(lat, lng) for lng, lat in ring[:-1]] for ring in rings))
        for rings in polygons))
    return sorted(set(h3.h3shape_to_cells(shape, res)))


def _polygons(geometry: Any, allow_antarctic: bool) -> list[list[list[tuple[float, float]]]]:
    if not isinstance(geometry, Mapping) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        kind = geometry.get("type") if isinstance(geometry, Mapping) else type(geometry).__name__
        raise ValueError(f"expected a GeoJSON Polygon or MultiPolygon geometry, got {kind!r}")
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list):
        raise ValueError("GeoJSON coordinates must be an array")  # noqa: TRY004
    if geometry["type"] == "Polygon":
        raw = [coordinates] if coordinates else []
    else:
        raw = coordinates
    polygons = []
    for i, rings in enumerate(raw):
        if not isinstance(rings, list) or not rings:
            raise ValueError(f"polygon {i}: expected a non-empty array of rings")
        polygon = [_ring(r, f"polygon {i} ring {j}", allow_antarctic) for j, r in enumerate(rings)]
        _refuse_crossing_edges(polygon, f"polygon {i}")
        for j, points in enumerate(polygon):
            if abs(_planar_area(points)) < 1e-12:  # after the crossing check: a bowtie has 0 too
                raise ValueError(f"polygon {i} ring {j}: ring has no area")
        polygons.append(polygon)
    return polygons


def _ring(ring: Any, where: str, allow_antarctic: bool) -> list[tuple[float, float]]:
    if not isinstance(ring, list) or len(ring) < 4:
        raise ValueError(f"{where}: a ring needs at least 4 positions (the first repeated last)")
    points = [parse_position(p, f"{where} position {k}") for k, p in enumerate(ring)]
    if points[0] != points[-1]:
        raise ValueError(f"{where}: ring is not closed (first position {list(points[0])} "
                         f"differs from last {list(points[-1])})")
    for k, (lng, lat) in enumerate(points):
        if lat < SOUTHERN_LIMIT_LAT and not allow_antarctic:
            raise ValueError(f"{where} position {k} [{lng}, {lat}] lies south of 60°S: it looks "
                             "like [lat, lng], GeoJSON positions are [lng, lat]")
    for k, (a, b) in enumerate(pairwise(points)):
        if abs(a[0] - b[0]) > 180:
            raise ValueError(f"{where}: edge {k} crosses the antimeridian; split the polygon "
                             "at 180° (RFC 7946)")
    return points




def _planar_area(points: Sequence[tuple[float, float]]) -> float:
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in pairwise(points)) / 2


def _ring_area_km2(points: Sequence[tuple[float, float]]) -> float:
    """Spherical area of a closed [lng, lat] ring (the formula d3 and turf use)."""
    total = sum(math.radians(b[0] - a[0])
                * (2 + math.sin(math.radians(a[1])) + math.sin(math.radians(b[1])))
                for a, b in pairwise(points))
    return abs(total) * 6371.0088 ** 2 / 2


def _refuse_crossing_edges(rings: list[list[tuple[float, float]]], where: str) -> None:
    """Refuse two edges of one polygon (any rings) crossing at an interior point.

    Sweep over edges sorted by west end, so only edges overlapping in longitude
    are compared (near n log n for real outlines). Touching at a vertex is
    allowed, as in OGC simple features.
    """
    edges = sorted(
        (min(a[0], b[0]), max(a[0], b[0]), j, k, a, b)
        for j, ring in enumerate(rings) for k, (a, b) in enumerate(pairwise(ring)))
    active: list[tuple[float, float, int, int, tuple[float, float], tuple[float, float]]] = []
    for edge in edges:
        west = edge[0]
        active = [e for e in active if e[1] >= west]
        for other in active:
            if _cross(edge[4], edge[5], other[4], other[5]):
                raise ValueError(f"{where} is self-intersecting: ring {edge[2]} edge {edge[3]} "
                                 f"crosses ring {other[2]} edge {other[3]}")
        active.append(edge)


def _cross(a: tuple[float, float], b: tuple[float, float],
           c: tuple[float, float], d: tuple[float, float]) -> bool:
    def side(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    return (side(a, b, c) * side(a, b, d) < 0) and (side(c, d, a) * side(c, d, b) < 0)


def _refuse_swapped(polygons: list[list[list[tuple[float, float]]]],
                    near: tuple[float, float]) -> None:
    outer = [p for rings in polygons for p in rings[0][:-1]]
    lng = sum(p[0] for p in outer) / len(outer)
    lat = sum(p[1] for p in outer) / len(outer)
    as_written = distance_km(near, (lat, lng))
    if abs(lng) > 90 or as_written <= SWAP_MARGIN_KM:
        return
    swapped = distance_km(near, (lng, lat))
    if 2 * swapped < as_written:
        raise ValueError(
            f"the polygon lies {as_written:,.0f} km from where it was expected, but "
            f"{swapped:,.0f} km if its positions were [lat, lng]: GeoJSON positions are [lng, lat]")
