"""Accounts near a point: "who can I visit around here?", nearest first.

How (the same on the server and, offline, on the phone):

1. **Cover the circle with H3 cells.** ``disk_around`` gives the cells (a
   superset) at resolution 9, the accounts' own cells: a 2 km circle is ~270
   cells, one ``h3_cell IN (...)`` on the index ``accounts (org_id, h3_cell)``.
   When that disk would pass ``MAX_DISK_CELLS`` (radius over ~5 km; 50 km at
   resolution 9 is ~100,000 cells) the disk is built at the finest coarser
   resolution that fits, compacted, and every cell becomes a range of
   resolution-9 cells: the descendants of an H3 cell at a finer resolution are
   one contiguous run of indexes (the parent's digits lead, the child digits
   follow), so ``h3_cell BETWEEN first child AND last child`` holds exactly
   them. The ranges are one ``UNION ALL`` of index range scans that drives
   the join (``CROSS JOIN`` keeps SQLite from scanning the org's accounts
   instead: an ``OR`` of ranges made it pick ``(org_id, version)``, 250 ms).
2. **Exact distance.** Candidates (id and position, from a covering index)
   are filtered by great-circle distance (haversine, the formula h3 uses)
   and sorted by it, then by id. The cover is a superset, so the radius is
   exact at the edge. ``not_visited_days`` then drops the candidates with a
   visit since then (index probes on ``activities (account_id, occurred_at)``).
3. **The page** (limit rows) is read whole, with each account's last visit
   (one grouped read).

Offline equivalent: the phone holds its territory's accounts (with ``lat``,
``lng``, ``h3_cell``) and their recent visits from sync. It runs the same
three steps against its local database with its H3 binding: the disk (or the
ranges) as an ``IN``/``BETWEEN`` filter on an index of ``h3_cell``, haversine
on the few hundred candidates, sort, and ``max(occurred_at)`` of its local
visit activities. Same answer for the accounts it holds, no signal needed.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta

import msgspec
from piccolo.querystring import QueryString

from server.access.scope import Scope
from server.common.errors import Invalid
from server.common.time import as_datetime, utcnow
from server.db.engine import read_values
from server.db.ids import as_uuid
from server.geo.cells import (
    POINT_RESOLUTION,
    cell_area_km2,
    checked_latlng,
    child_range,
    compact,
    disk_around,
    latlng_to_cell,
    resolution_of,
)

DEFAULT_RADIUS_M = 2_000.0
MAX_RADIUS_M = 50_000.0
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_NOT_VISITED_DAYS = 3_650
#: Largest disk built before a coarser resolution is chosen (building it costs ~1 us a cell).
MAX_DISK_CELLS = 2_000
#: Coarsest resolution tried for the cover (~250 km² cells: a 50 km radius is a few dozen).
COARSEST_COVER_RESOLUTION = 5
#: h3's mean earth radius (``great_circle_distance`` in km x 1000).
EARTH_RADIUS_M = 6_371_007.180918475

#: Candidates are read from the index ``accounts (org_id, h3_cell, lat, lng, owner_id, id, deleted_at)``
#: (live rows only) without visiting the table; only the page's rows are then read whole.
_CANDIDATE_COLUMNS = "accounts.id, accounts.lat, accounts.lng"
_COLUMNS = ("accounts.id, accounts.name, accounts.status, accounts.owner_id, accounts.lat, accounts.lng, "
            "accounts.h3_cell, accounts.address_line, accounts.city")
PAGE_SQL = f"SELECT {_COLUMNS} FROM accounts WHERE accounts.id IN ({{}})"
CANDIDATES_FILTER = " AND accounts.deleted_at IS NULL AND accounts.lat IS NOT NULL AND accounts.lng IS NOT NULL"
#: Accounts (among the candidates in the circle) visited since a time: one index probe per candidate
#: on ``activities (account_id, occurred_at)``. As a ``NOT EXISTS`` inside the candidate query,
#: PostgreSQL hashed every visit of the org instead (40 ms).
VISITED_SQL = ("SELECT DISTINCT account_id FROM activities WHERE account_id IN ({}) AND type = 'visit' "
               "AND deleted_at IS NULL AND occurred_at >= {{}}")
#: No ``org_id`` term: the ids come from the scoped query already, and with one SQLite took the
#: ``(org_id, version)`` index and read every activity of the org (~40 ms) instead of the page's.
LAST_VISITS_SQL = ("SELECT account_id, max(occurred_at) FROM activities WHERE account_id IN ({}) "
                   "AND type = 'visit' AND deleted_at IS NULL GROUP BY account_id")


class NearbyAccount(msgspec.Struct):
    id: uuid.UUID
    name: str
    status: str
    owner_id: uuid.UUID | None
    lat: float
    lng: float
    h3_cell: str | None
    address_line: str | None
    city: str | None
    #: Great-circle distance from the given point, in metres (0.1 m).
    distance_m: float
    #: The latest visit activity on the account, whoever made it.
    last_visit_at: datetime | None


class NearbyAccounts(msgspec.Struct):
    items: list[NearbyAccount]


class NearbyQuery(msgspec.Struct, kw_only=True):
    lat: float | None
    lng: float | None
    radius_m: float = DEFAULT_RADIUS_M
    not_visited_days: int | None = None
    status: str | None = None
    limit: int | None = None


def check(q: NearbyQuery) -> tuple[float, float, float, int]:
    """(lat, lng, radius_m, limit), or ``Invalid`` with a machine code."""
    if q.lat is None or q.lng is None:
        raise Invalid("lat and lng are required", field="lat" if q.lat is None else "lng",
                      code="location_required")
    try:
        lat, lng = checked_latlng(q.lat, q.lng)
    except ValueError as exc:
        raise Invalid(f"{exc}: lat must be within ±90, lng within ±180", field="lat",
                      code="location_out_of_range") from None
    if not math.isfinite(q.radius_m) or q.radius_m <= 0:
        raise Invalid("radius_m must be a positive number of metres", field="radius_m", code="invalid_radius")
    if q.radius_m > MAX_RADIUS_M:
        raise Invalid(f"radius_m may be at most {MAX_RADIUS_M:,.0f}", field="radius_m", code="radius_too_large")
    if q.not_visited_days is not None and not 1 <= q.not_visited_days <= MAX_NOT_VISITED_DAYS:
        raise Invalid(f"not_visited_days must be from 1 to {MAX_NOT_VISITED_DAYS}", field="not_visited_days",
                      code="invalid_not_visited_days")
    limit = DEFAULT_LIMIT if q.limit is None else q.limit
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}", field="limit", code="invalid_limit")
    return lat, lng, q.radius_m, limit


def cover_resolution(lat: float, lng: float, radius_km: float) -> int:
    """The finest resolution whose disk around the point stays under ``MAX_DISK_CELLS`` (estimated
    from the local cell area, before building anything)."""
    for res in range(POINT_RESOLUTION, COARSEST_COVER_RESOLUTION, -1):
        area = cell_area_km2(latlng_to_cell(lat, lng, res))
        edge = math.sqrt(area / 2.598)  # a hexagon's area is 3√3/2 · edge²
        if math.pi * (radius_km + 3 * edge) ** 2 / area <= MAX_DISK_CELLS:
            return res
    return COARSEST_COVER_RESOLUTION


def cover(lat: float, lng: float, radius_km: float) -> tuple[list[str], list[tuple[str, str]]]:
    """Resolution-9 cells and ranges of them covering every point within ``radius_km`` (a superset)."""
    res = cover_resolution(lat, lng, radius_km)
    if res == POINT_RESOLUTION:
        return disk_around(lat, lng, radius_km, res), []
    exact, ranges = [], []
    for cell in compact(disk_around(lat, lng, radius_km, res)):
        if resolution_of(cell) == POINT_RESOLUTION:
            exact.append(cell)
        else:
            ranges.append(child_range(cell, POINT_RESOLUTION))
    return exact, ranges


def _marks(values: list) -> str:
    return ", ".join("{}" for _ in values)


def _candidates(scope: Scope, exact: list[str], ranges: list[tuple[str, str]]) -> tuple[str, list]:
    """The candidate query's SQL head and arguments: the cover, in the caller's scope."""
    if not ranges:
        return (f"SELECT {_CANDIDATE_COLUMNS} FROM accounts WHERE {{}} AND accounts.h3_cell IN ({_marks(exact)})",
                [scope.accounts().querystring, *exact])
    parts, args = [], []
    if exact:
        parts.append(f"SELECT id FROM accounts WHERE org_id = {{}} AND deleted_at IS NULL "
                     f"AND h3_cell IN ({_marks(exact)})")
        args += [scope.org_id, *exact]
    for lo, hi in ranges:
        # ``deleted_at IS NULL`` lets the partial index on live accounts serve each range.
        parts.append("SELECT id FROM accounts WHERE org_id = {} AND deleted_at IS NULL AND h3_cell BETWEEN {} AND {}")
        args += [scope.org_id, lo, hi]
    sql = (f"SELECT {_CANDIDATE_COLUMNS} FROM ({' UNION ALL '.join(parts)}) near CROSS JOIN accounts "
           "WHERE accounts.id = near.id AND {}")
    return sql, [*args, scope.accounts().querystring]


def _uuid(value) -> uuid.UUID | None:
    return None if value is None else as_uuid(value)


async def nearby_accounts(scope: Scope, q: NearbyQuery) -> list[NearbyAccount]:
    """Accounts in the caller's scope within ``radius_m`` of the point, nearest first."""
    lat, lng, radius_m, limit = check(q)
    exact, ranges = cover(lat, lng, radius_m / 1000)
    sql, args = _candidates(scope, exact, ranges)
    sql += CANDIDATES_FILTER
    if q.status is not None:
        sql += " AND accounts.status = {}"
        args.append(q.status)
    rows = await read_values(QueryString(sql, *args))
    metres_to = distances_m(lat, lng)
    found = []
    for account_id, a_lat, a_lng in rows:
        metres = metres_to(a_lat, a_lng)
        if metres <= radius_m:
            found.append((metres, str(account_id)))
    found.sort()
    if q.not_visited_days is not None:
        page = await _not_visited(found, utcnow() - timedelta(days=q.not_visited_days), limit)
    else:
        page = found[:limit]
    if not page:
        return []
    ids = [key for _, key in page]
    marks = _marks(ids)
    full = {str(r[0]): r for r in await read_values(QueryString(PAGE_SQL.format(marks), *ids))}
    visits = {str(a): as_datetime(t) for a, t in
              await read_values(QueryString(LAST_VISITS_SQL.format(marks), *ids))}
    return [NearbyAccount(id=_uuid(r[0]), name=r[1], status=r[2], owner_id=_uuid(r[3]), lat=r[4], lng=r[5],
                          h3_cell=r[6], address_line=r[7], city=r[8], distance_m=round(metres, 1),
                          last_visit_at=visits.get(key))
            for metres, key in page if (r := full.get(key)) is not None]


async def _not_visited(found: list[tuple[float, str]], since: datetime, limit: int) -> list[tuple[float, str]]:
    """The nearest ``limit`` of ``found`` (sorted) with no visit since ``since``, checked nearest first."""
    page: list[tuple[float, str]] = []
    step = max(2 * limit, 100)
    for i in range(0, len(found), step):
        chunk = found[i:i + step]
        ids = [key for _, key in chunk]
        sql = VISITED_SQL.format(_marks(ids))
        visited = {str(a) for a, in await read_values(QueryString(sql, *ids, since))}
        page += [f for f in chunk if f[1] not in visited]
        if len(page) >= limit:
            break
    return page[:limit]


def distances_m(lat: float, lng: float):
    """Great-circle distance in metres from (lat, lng), as a function of the other point (haversine,
    the formula h3's ``great_circle_distance`` uses), without per-call validation: the candidates'
    positions come from the database, checked on the way in."""
    phi1, lam1 = math.radians(lat), math.radians(lng)
    cos1 = math.cos(phi1)

    def to(lat2: float, lng2: float) -> float:
        phi2 = math.radians(lat2)
        h = math.sin((phi2 - phi1) / 2) ** 2 + cos1 * math.cos(phi2) * math.sin((math.radians(lng2) - lam1) / 2) ** 2
        return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))

    return to
