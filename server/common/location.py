"""A point given on the wire: both coordinates or neither, and its H3 cell."""

from __future__ import annotations

from server.common.errors import Invalid
from server.geo.cells import latlng_to_cell


def check_point(lat: float | None, lng: float | None, *, prefix: str = "") -> tuple[float, float] | None:
    """``(lat, lng)``, or ``None`` when neither is given; ``Invalid`` when only one is."""
    if (lat is None) != (lng is None):
        missing = f"{prefix}lat" if lat is None else f"{prefix}lng"
        raise Invalid(f"{prefix}lat and {prefix}lng go together", field=missing, code="incomplete_location")
    return None if lat is None or lng is None else (lat, lng)


def point_columns(lat: float | None, lng: float | None) -> dict:
    """The ``lat``, ``lng`` and ``h3_cell`` columns for a point (all null without one)."""
    point = check_point(lat, lng)
    if point is None:
        return {"lat": None, "lng": None, "h3_cell": None}
    return {"lat": point[0], "lng": point[1], "h3_cell": latlng_to_cell(*point)}
