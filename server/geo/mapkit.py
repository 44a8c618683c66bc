"""The offline map package: what a rep's phone downloads to draw its territories with no signal.

Two parts, each with its own ETag, so a phone refetches only what changed
(TERRITORIES.md, "Offline map package"):

* **geometry**: a territory's compacted cells as stored and its outline
  (GeoJSON MultiPolygon, [lng, lat]). It changes only when the territory does.
  Its ETag is derived from the territory's id and ``geometry_version`` (plus
  name, layer and resolution, which the part also carries: a rename must not
  hide behind a 304). Checking it reads five small columns and builds nothing;
  built parts are kept in a small per-process cache keyed by that ETag, so the
  outline of a territory is drawn once per version, not once per phone.
* **figures**: per resolution-9 cell, the accounts placed in the territory,
  their potential and the visits made there this month (in the org's time
  zone), plus totals. Built by :func:`refresh_figures` (a job) into
  ``territory_figures`` and served as stored, body and ETag; a territory
  without a row yet gets it built on the request (:func:`fill_figures`).

Why resolution 9 for the figures: it is the account's own cell, so there are
never more entries than located accounts (2,000 accounts: at most 2,000
entries, ~50 KB gzipped), nothing is shown that the synced pins do not show
already, and the phone rolls them up to whatever resolution its zoom level
draws (a parent is a pure function of the cell). A coarser fixed resolution
would be smaller but would pin the map to one zoom.

Figures follow **placement** (``territory_accounts``, kept by
``server.geo.placement`` from the cells), not a fresh cell lookup: they then
count exactly the accounts whose pins the rep's phone holds (the scope uses
placement too), and the whole org is two grouped queries over indexed joins.

The service opens no transaction: building missing figures on a request is
signalled with :class:`Missing` and the route decides the unit of work.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from hashlib import blake2b
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from piccolo.querystring import QueryString

from server.access.scope import Scope
from server.common.errors import NotFound
from server.common.schemas import money
from server.common.time import utcnow
from server.db.engine import read_values
from server.db.ids import as_uuid, new_id
from server.db.tx import unit_of_work
from server.geo.cells import POINT_RESOLUTION
from server.geo.outlines import cells_to_geojson
from server.geo.tables import TerritoryFigures, stored_cells

#: Built geometry parts kept per process (a 5,000-cell territory: ~20 KB each).
GEOMETRY_CACHE_SIZE = 256
#: Figures rows written per transaction by the job (SQLite writers hold the lock briefly).
WRITE_CHUNK = 200
#: Decimals of outline positions: ~0.1 m, what a phone map needs.
OUTLINE_PRECISION = 6


# -- wire types ------------------------------------------------------------------------------
class TerritoryMapOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    layer: str
    geometry_version: int
    #: The resolution the territory was drawn at; compacted cells may be coarser.
    resolution: int
    #: Compacted H3 cells, as stored.
    cells: list[str]
    #: GeoJSON MultiPolygon of the cells, positions [lng, lat].
    outline: dict[str, Any]


class TerritoryMapsOut(msgspec.Struct):
    items: list[TerritoryMapOut]


class CellFigures(msgspec.Struct):
    cell: str
    accounts: int
    #: Sum of the accounts' yearly potential, two decimals (a string, like every amount).
    potential: Decimal
    visits_this_month: int


class FiguresTotals(msgspec.Struct):
    accounts: int
    potential: Decimal
    visits_this_month: int
    #: Accounts placed in the territory without a location (in the totals, on no cell).
    unlocated_accounts: int


class TerritoryFiguresOut(msgspec.Struct):
    territory_id: uuid.UUID
    #: Resolution of ``cells`` (the accounts' own cells).
    resolution: int
    #: The month ``visits_this_month`` counts, in the org's time zone ("2025-06").
    month: str
    cells: list[CellFigures]
    totals: FiguresTotals


class TerritoryFiguresListOut(msgspec.Struct):
    items: list[TerritoryFiguresOut]


class Part(NamedTuple):
    """One part of the package: its ETag (unquoted) and JSON body, ``None`` when the client has it."""

    etag: str
    body: bytes | None


class Missing(NamedTuple):
    """Territories whose figures have never been built: fill them (``fill_figures``), then ask again."""

    territory_ids: list[uuid.UUID]


_encode = msgspec.json.encode


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else value if isinstance(value, str) else _encode(value).decode()


def _digest(*parts: object) -> str:
    h = blake2b(digest_size=16)
    for p in parts:
        h.update(str(p).encode())
        h.update(b"\x1f")
    return h.hexdigest()


def _matches(known: Collection[str], etag: str) -> bool:
    return "*" in known or etag in known


# -- geometry --------------------------------------------------------------------------------
_META = ("territories.id, territories.geometry_version, territories.name, territories.layer, "
         "territories.resolution")
ONE_META_SQL = (f"SELECT {_META} FROM territories WHERE {{}} AND territories.id = {{}} "
                "AND territories.deleted_at IS NULL")
#: Territories drawn on the map now: not deleted, in effect.
LIVE_META_SQL = (f"SELECT {_META} FROM territories WHERE {{}} AND territories.deleted_at IS NULL "
                 "AND territories.effective_from <= {} "
                 "AND (territories.effective_to IS NULL OR territories.effective_to > {}) ORDER BY territories.id")
CELLS_SQL = "SELECT id, cells FROM territories WHERE org_id = {} AND id IN ({})"

_geometry_cache: OrderedDict[str, bytes] = OrderedDict()


def _scoped(scope: Scope) -> QueryString:
    """The caller's territory condition (it names the table ``territories``)."""
    return scope.territories().querystring


def geometry_etag(territory_id: Any, geometry_version: int, name: str, layer: str, resolution: int) -> str:
    """Strong ETag of one territory's geometry part: its id and geometry version, and a hash of
    the other fields the part carries. Cheap: no cell is read."""
    return f"g-{as_uuid(territory_id).hex}-{geometry_version}-{_digest(name, layer, resolution)[:8]}"


def build_geometry(territory_id: Any, geometry_version: int, name: str, layer: str, resolution: int,
                   cells: Any) -> bytes:
    """The geometry part's JSON (pure apart from the cache)."""
    cells = stored_cells(cells)
    return _encode(TerritoryMapOut(
        id=as_uuid(territory_id), name=name, layer=layer, geometry_version=geometry_version,
        resolution=resolution, cells=cells,
        outline=cells_to_geojson(cells, precision=OUTLINE_PRECISION)))


def _cached(etag: str) -> bytes | None:
    body = _geometry_cache.get(etag)
    if body is not None:
        _geometry_cache.move_to_end(etag)
    return body


def _remember(etag: str, body: bytes) -> None:
    _geometry_cache[etag] = body
    while len(_geometry_cache) > GEOMETRY_CACHE_SIZE:
        _geometry_cache.popitem(last=False)


async def _geometry_bodies(org_id: uuid.UUID, metas: Sequence[tuple]) -> list[bytes]:
    """The geometry parts of ``metas`` (rows of ``_META``), from the cache or built."""
    etags = [geometry_etag(*m) for m in metas]
    bodies = [_cached(e) for e in etags]
    todo = [m for m, b in zip(metas, bodies, strict=True) if b is None]
    if todo:
        ids = [as_uuid(m[0]) for m in todo]
        sql = CELLS_SQL.format("{}", ", ".join("{}" for _ in ids))
        cells = {as_uuid(i): c for i, c in await read_values(QueryString(sql, org_id, *ids))}
        for i, (meta, body) in enumerate(zip(metas, bodies, strict=True)):
            if body is None:
                bodies[i] = build_geometry(*meta, cells.get(as_uuid(meta[0]), "[]"))
                _remember(etags[i], bodies[i])
    return bodies  # type: ignore[return-value]


async def territory_geometry(scope: Scope, territory_id: uuid.UUID, known: Collection[str] = ()) -> Part:
    """One territory's geometry part; ``body`` is None when ``known`` holds its ETag (304)."""
    rows = await read_values(QueryString(ONE_META_SQL, _scoped(scope), territory_id), short=True)
    if not rows:
        raise NotFound("territory not found")
    meta = rows[0]
    etag = geometry_etag(*meta)
    if _matches(known, etag):
        return Part(etag, None)
    return Part(etag, (await _geometry_bodies(scope.org_id, [meta]))[0])


async def _live_metas(scope: Scope) -> list[tuple]:
    now = utcnow()
    return await read_values(QueryString(LIVE_META_SQL, _scoped(scope), now, now))


def _combined(prefix: str, etags: Iterable[str]) -> str:
    return f"{prefix}-{_digest(*etags)}"


def _items(bodies: Iterable[bytes]) -> bytes:
    return b'{"items":[' + b",".join(bodies) + b"]}"


async def all_geometry(scope: Scope, known: Collection[str] = ()) -> Part:
    """The geometry of every territory the caller sees and in effect now, under one ETag."""
    metas = await _live_metas(scope)
    etag = _combined("G", (geometry_etag(*m) for m in metas))
    if _matches(known, etag):
        return Part(etag, None)
    return Part(etag, _items(await _geometry_bodies(scope.org_id, metas)))


# -- figures: serving ---------------------------------------------------------------------------
ONE_FIGURES_ETAG_SQL = ("SELECT territories.id, f.etag FROM territories LEFT JOIN territory_figures f "
                        "ON f.territory_id = territories.id "
                        "WHERE {} AND territories.id = {} AND territories.deleted_at IS NULL")
FIGURES_ETAGS_SQL = "SELECT territory_id, etag FROM territory_figures WHERE org_id = {} AND territory_id IN ({})"
FIGURES_BODIES_SQL = "SELECT territory_id, body FROM territory_figures WHERE org_id = {} AND territory_id IN ({})"


def _in(ids: Sequence[Any]) -> str:
    return ", ".join("{}" for _ in ids)


async def _figure_bodies(org_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, bytes]:
    sql = FIGURES_BODIES_SQL.format("{}", _in(ids))
    return {as_uuid(t): _text(b).encode() for t, b in await read_values(QueryString(sql, org_id, *ids))}


async def territory_figures(scope: Scope, territory_id: uuid.UUID,
                            known: Collection[str] = ()) -> Part | Missing:
    """One territory's figures part as stored; ``Missing`` if never built."""
    rows = await read_values(QueryString(ONE_FIGURES_ETAG_SQL, _scoped(scope), territory_id), short=True)
    if not rows:
        raise NotFound("territory not found")
    etag = rows[0][1]
    if not etag:
        return Missing([territory_id])
    if _matches(known, etag):
        return Part(etag, None)
    body = (await _figure_bodies(scope.org_id, [territory_id])).get(territory_id)
    if body is None:  # deleted by someone meanwhile
        return Missing([territory_id])
    return Part(etag, body)


async def all_figures(scope: Scope, known: Collection[str] = ()) -> Part | Missing:
    """The figures of every territory the caller sees and in effect now, under one ETag."""
    ids = [as_uuid(m[0]) for m in await _live_metas(scope)]
    etags: dict[uuid.UUID, str] = {}
    if ids:
        sql = FIGURES_ETAGS_SQL.format("{}", _in(ids))
        etags = {as_uuid(t): e for t, e in await read_values(QueryString(sql, scope.org_id, *ids))}
    missing = [i for i in ids if not etags.get(i)]
    if missing:
        return Missing(missing)
    etag = _combined("F", (f"{i.hex}:{etags[i]}" for i in ids))
    if _matches(known, etag):
        return Part(etag, None)
    bodies = await _figure_bodies(scope.org_id, ids) if ids else {}
    if len(bodies) != len(ids):
        return Missing([i for i in ids if i not in bodies])
    return Part(etag, _items(bodies[i] for i in ids))


# -- figures: building ---------------------------------------------------------------------------
ORG_TZ_SQL = "SELECT timezone FROM organisations WHERE id = {}"
ORG_LIVE_SQL = ("SELECT id FROM territories WHERE org_id = {} AND deleted_at IS NULL "
                "AND effective_from <= {} AND (effective_to IS NULL OR effective_to > {})")
#: Accounts placed in territories, per territory and cell (one grouped query for a whole org).
PLACED_SQL = (
    "SELECT ta.territory_id, a.h3_cell, count(*), sum(a.potential) "
    "FROM territory_accounts ta JOIN accounts a ON a.id = ta.account_id "
    "WHERE ta.org_id = {} AND ta.valid_to IS NULL AND a.deleted_at IS NULL{only} "
    "GROUP BY ta.territory_id, a.h3_cell")
#: Their visits in a month, per territory and the account's cell.
VISITS_SQL = (
    "SELECT ta.territory_id, a.h3_cell, count(*) "
    "FROM territory_accounts ta JOIN accounts a ON a.id = ta.account_id "
    "JOIN activities v ON v.account_id = a.id "
    "WHERE ta.org_id = {} AND ta.valid_to IS NULL AND a.deleted_at IS NULL{only} "
    "AND v.org_id = {} AND v.type = 'visit' AND v.deleted_at IS NULL "
    "AND v.occurred_at >= {} AND v.occurred_at < {} "
    "GROUP BY ta.territory_id, a.h3_cell")
EXISTING_SQL = "SELECT territory_id, etag FROM territory_figures WHERE org_id = {}"
UPSERT_SQL = ("INSERT INTO territory_figures (id, org_id, territory_id, computed_at, etag, body) "
              "VALUES ({}, {}, {}, {}, {}, {}) ON CONFLICT (territory_id) DO UPDATE "
              "SET computed_at = excluded.computed_at, etag = excluded.etag, body = excluded.body")


def month_window(now: datetime, tz_name: str) -> tuple[str, datetime, datetime]:
    """("2025-06", start, end) of the month holding ``now`` in the org's time zone, bounds in UTC."""
    try:
        tz = ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    local = now.astimezone(tz)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return f"{start:%Y-%m}", start.astimezone(UTC), end.astimezone(UTC)


def figures_body(territory_id: uuid.UUID, month: str, placed: Iterable[tuple], visits: dict[str | None, int]) -> bytes:
    """The canonical figures JSON of one territory (pure): cells sorted, amounts to the cent,
    so the same figures give the same bytes, and the same ETag, on both engines."""
    cells, unlocated, total_potential = [], 0, Decimal(0)
    total_accounts = 0
    for cell, count, potential in placed:
        amount = money(potential) or Decimal("0.00")
        total_accounts += count
        total_potential += amount
        if cell is None:
            unlocated += count
            continue
        cells.append(CellFigures(cell=cell, accounts=count, potential=amount,
                                 visits_this_month=visits.get(cell, 0)))
    cells.sort(key=lambda c: c.cell)
    return _encode(TerritoryFiguresOut(
        territory_id=territory_id, resolution=POINT_RESOLUTION, month=month, cells=cells,
        totals=FiguresTotals(accounts=total_accounts, potential=money(total_potential) or Decimal("0.00"),
                             visits_this_month=sum(visits.values()), unlocated_accounts=unlocated)))


def figures_etag(body: bytes) -> str:
    return "f-" + blake2b(body, digest_size=16).hexdigest()


async def compute_figures(org_id: uuid.UUID, territory_ids: Sequence[uuid.UUID] | None = None,
                          *, now: datetime | None = None) -> dict[uuid.UUID, bytes]:
    """Figures bodies of the org's live territories (or of ``territory_ids``), in three reads."""
    now = now or utcnow()
    tz_rows = await read_values(QueryString(ORG_TZ_SQL, org_id), short=True)
    month, start, end = month_window(now, tz_rows[0][0] if tz_rows else "UTC")
    if territory_ids is None:
        ids = [as_uuid(r[0]) for r in await read_values(QueryString(ORG_LIVE_SQL, org_id, now, now))]
        only, only_args = "", []
    else:
        ids = [as_uuid(t) for t in territory_ids]
        only, only_args = f" AND ta.territory_id IN ({_in(ids)})", ids
    if not ids:
        return {}
    placed: dict[uuid.UUID, list[tuple]] = defaultdict(list)
    for t, cell, count, potential in await read_values(
            QueryString(PLACED_SQL.replace("{only}", only), org_id, *only_args)):
        placed[as_uuid(t)].append((cell, count, potential))
    visits: dict[uuid.UUID, dict[str | None, int]] = defaultdict(dict)
    for t, cell, count in await read_values(
            QueryString(VISITS_SQL.replace("{only}", only), org_id, *only_args, org_id, start, end)):
        visits[as_uuid(t)][cell] = count
    return {t: figures_body(t, month, placed.get(t, ()), visits.get(t, {})) for t in ids}


async def store_figures(org_id: uuid.UUID, bodies: dict[uuid.UUID, bytes],
                        existing: dict[uuid.UUID, str] | None = None) -> int:
    """Write the bodies whose ETag differs from ``existing``'s (inside the caller's unit of work)."""
    existing = existing or {}
    now = utcnow()
    written = 0
    for territory_id, body in bodies.items():
        etag = figures_etag(body)
        if existing.get(territory_id) == etag:
            continue
        await TerritoryFigures.raw(UPSERT_SQL, new_id(), org_id, territory_id, now, etag, body.decode())
        written += 1
    return written


async def fill_figures(org_id: uuid.UUID, territory_ids: Sequence[uuid.UUID]) -> int:
    """Build and store the figures of territories that have none (open a unit of work around it)."""
    return await store_figures(org_id, await compute_figures(org_id, territory_ids))


async def refresh_figures(org_id: uuid.UUID) -> int:
    """The job: recompute every live territory's figures of an org; rewrite only changed rows.

    Three grouped reads for the whole org (placements x accounts, their visits
    this month, the stored ETags), then the changed rows written in chunks of
    ``WRITE_CHUNK``, one short transaction each (the job's commit point).
    Returns the number of rows written.
    """
    bodies = await compute_figures(org_id)
    existing = {as_uuid(t): e for t, e in await read_values(QueryString(EXISTING_SQL, org_id))}
    changed = {t: b for t, b in bodies.items() if existing.get(t) != figures_etag(b)}
    items = list(changed.items())
    written = 0
    for i in range(0, len(items), WRITE_CHUNK):
        async with unit_of_work():
            written += await store_figures(org_id, dict(items[i:i + WRITE_CHUNK]))
    return written
