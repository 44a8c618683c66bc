"""H3 cells and coordinate order: the one module that converts between them.

h3 takes (lat, lng); GeoJSON and PostGIS take (lng, lat). Everything else in
the code base calls these functions instead of h3 directly.
"""

from __future__ import annotations

import h3

#: Accounts and leads store their cell at this resolution (~0.1 km² hexagons);
#: coarser territory cells are its parents.
POINT_RESOLUTION = 9


def valid_latlng(lat: float, lng: float) -> bool:
    return -90.0 <= lat <= 90.0 and -180.0 <= lng <= 180.0


def latlng_to_cell(lat: float, lng: float, resolution: int = POINT_RESOLUTION) -> str:
    if not valid_latlng(lat, lng):
        raise ValueError(f"coordinates out of range: lat={lat}, lng={lng}")
    return h3.latlng_to_cell(lat, lng, resolution)


def cell_to_latlng(cell: str) -> tuple[float, float]:
    return h3.cell_to_latlng(cell)


def cell_to_parent(cell: str, resolution: int) -> str:
    return h3.cell_to_parent(cell, resolution)


def disk(cell: str, k: int) -> list[str]:
    return list(h3.grid_disk(cell, k))


def compact(cells: list[str]) -> list[str]:
    return sorted(h3.compact_cells(cells))
