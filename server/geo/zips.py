"""Territories from US ZIP codes: each ZIP's area approximated from the ZIP centroids.

No ZIP boundaries ship on PyPI; the ``zipcodes`` package ships the centroid
of each of 42,789 ZIP codes. A ZIP's area is approximated as the cells whose
centre lies nearer to its centroid than to any other delivery ZIP's centroid
of the same state (its Voronoi cell among the state's active STANDARD ZIPs),
cut at a reach of 1.5 times the distance to its nearest neighbour, at least
3 km and at most 40 km, so ZIPs on a coast or a state line do not run out to
sea or across the border. PO-box, unique (one large mailer) and military ZIPs
have no area of their own: they contribute the one cell holding their centroid.

Accurate for dense suburbs, rough for large rural ZIPs; draw such territories
from a polygon (or import the Census ZCTA layer through ``fieldsales gis
import``) when the edge matters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import zipcodes
from scipy.spatial import cKDTree

from server.common.errors import Invalid
from server.geo.cells import (
    cell_to_latlng,
    disk,
    distance_km,
    latlng_to_cell,
    neighbors,
)

MIN_REACH_KM = 3.0
MAX_REACH_KM = 40.0
REACH_FACTOR = 1.5
MAX_ZIPS = 2_000


class Zip(NamedTuple):
    code: str
    state: str
    lat: float
    lng: float
    has_area: bool


@lru_cache(maxsize=1)
def _all() -> dict[str, Zip]:
    out = {}
    for z in zipcodes.list_all():
        if z["lat"] and z["long"]:
            out[z["zip_code"]] = Zip(z["zip_code"], z["state"], float(z["lat"]), float(z["long"]),
                                     z["active"] and z["zip_code_type"] == "STANDARD")
    return out


class _State(NamedTuple):
    codes: list[str]
    tree: cKDTree


def _unit(lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
    la, ln = np.radians(lat), np.radians(lng)
    return np.column_stack((np.cos(la) * np.cos(ln), np.cos(la) * np.sin(ln), np.sin(la)))


@lru_cache(maxsize=64)
def _state(state: str) -> _State:
    sites = sorted((z for z in _all().values() if z.state == state and z.has_area), key=lambda z: z.code)
    points = _unit(np.array([z.lat for z in sites]), np.array([z.lng for z in sites]))
    return _State([z.code for z in sites], cKDTree(points))


def lookup(codes: Iterable[str]) -> list[Zip]:
    """The ZIPs named, or ``Invalid`` (code ``unknown_zip``) listing those not known."""
    wanted = sorted({str(c).strip() for c in codes})
    if not wanted:
        raise Invalid("give at least one ZIP code", code="empty_region", field="zips")
    if len(wanted) > MAX_ZIPS:
        raise Invalid(f"at most {MAX_ZIPS} ZIP codes per territory", code="too_many_zips", field="zips")
    known = _all()
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise Invalid(f"unknown ZIP codes: {', '.join(unknown[:20])}", code="unknown_zip", field="zips",
                      extra={"unknown": unknown})
    return [known[c] for c in wanted]


def _reach_km(z: Zip, state: _State) -> float:
    dist, idx = state.tree.query(_unit(np.array([z.lat]), np.array([z.lng])), k=2)
    others = [d for d, i in zip(dist[0], idx[0], strict=True) if state.codes[i] != z.code and np.isfinite(d)]
    if not others:
        return MAX_REACH_KM
    km = 2 * math.asin(min(1.0, others[0] / 2)) * 6371.0088
    return min(MAX_REACH_KM, max(MIN_REACH_KM, REACH_FACTOR * km))


def zip_cells(z: Zip, res: int) -> set[str]:
    """The cells at ``res`` approximating one ZIP's area (see the module docstring)."""
    centre = latlng_to_cell(z.lat, z.lng, res)
    if not z.has_area:
        return {centre}
    state = _state(z.state)
    reach = _reach_km(z, state)
    spacing = distance_km(cell_to_latlng(centre), cell_to_latlng(neighbors(centre)[0]))
    candidates = disk(centre, max(1, math.ceil(reach / max(spacing, 1e-6))))
    points = [cell_to_latlng(c) for c in candidates]
    lat = np.array([p[0] for p in points])
    lng = np.array([p[1] for p in points])
    _, nearest = state.tree.query(_unit(lat, lng))
    own = state.codes.index(z.code)
    out = {centre}
    for cell, (clat, clng), site in zip(candidates, points, nearest, strict=True):
        if site == own and distance_km((z.lat, z.lng), (clat, clng)) <= reach:
            out.add(cell)
    return out


def zips_to_cells(codes: Iterable[str], res: int) -> list[str]:
    """The cells at ``res`` covering the named ZIPs' approximated areas, sorted."""
    out: set[str] = set()
    for z in lookup(codes):
        out |= zip_cells(z, res)
    return sorted(out)
