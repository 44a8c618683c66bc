"""Which territories hold each account: placed by its cell, effective-dated, and synced.

An account is in every live territory (of any layer) whose compacted cells
cover its resolution-9 cell. Placement is recomputed in memory for a whole
org (or a few accounts) and only the difference is written: placements that
end get ``valid_to``, new ones are inserted. Accounts whose set of holders
(owner plus the owners of their territories) changed get one new version,
and those that left someone's scope a move record naming the old holders,
with their contacts, opportunities and recent activities carried along, so
the old owner's phone receives them as ``removed`` and the new owner's whole
(``server.sync.changes``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import h3

from server.common.time import as_datetime, utcnow
from server.db import direct
from server.db.bulk import insert_rows
from server.db.clock import next_version
from server.db.ids import new_id_text
from server.geo.cells import (
    POINT_RESOLUTION,
    cell_set,
    child_range,
    is_valid_cell,
    resolution_of,
)
from server.geo.tables import stored_cells
from server.sync.changes import bump_versions, carry_account_rows, log_moves, poke

LIVE_TERRITORIES_SQL = ("SELECT CAST(id AS TEXT), cells, layer, effective_from FROM territories WHERE org_id = ? "
                        "AND deleted_at IS NULL AND effective_to IS NULL")
OWNERS_SQL = ("SELECT CAST(territory_id AS TEXT), CAST(user_id AS TEXT) FROM territory_owners "
              "WHERE org_id = ? AND valid_to IS NULL")
ACCOUNTS_SQL = ("SELECT CAST(id AS TEXT), h3_cell, CAST(owner_id AS TEXT) FROM accounts "
                "WHERE org_id = ? AND deleted_at IS NULL")
OPEN_COLUMNS = ("SELECT CAST(id AS TEXT), CAST(account_id AS TEXT), CAST(territory_id AS TEXT) "
                "FROM territory_accounts")
#: Through the territory index: placements keep their history, so most rows are closed ones.
OPEN_SQL = f"{OPEN_COLUMNS} WHERE valid_to IS NULL AND territory_id IN (SELECT id FROM territories WHERE org_id = ?)"

Held = frozenset[str]


class Placed(NamedTuple):
    opened: int
    closed: int
    moved_accounts: int
    version: int | None


class CellIndex:
    """Cells of many territories, looked up by any finer cell's ancestors (pure)."""

    def __init__(self, territories: Iterable[tuple[Any, Sequence[str]]]) -> None:
        self.by_cell: dict[str, list[Any]] = defaultdict(list)
        for territory_id, cells in territories:
            for cell in cells:
                if is_valid_cell(cell):
                    self.by_cell[cell].append(territory_id)
        self.resolutions = sorted({resolution_of(c) for c in self.by_cell})
        self._memo: dict[str, tuple] = {}

    def covering(self, cell: str | None) -> tuple:
        """Territories whose cells hold ``cell`` (a point cell), sorted; () for none or no cell."""
        if not cell:
            return ()
        found = self._memo.get(cell)
        if found is None:
            found = self._memo[cell] = self._covering(cell) if is_valid_cell(cell) else ()
        return found

    def _covering(self, cell: str) -> tuple:
        res = h3.get_resolution(cell)
        found: set = set()
        for r in self.resolutions:
            if r > res:
                break
            found.update(self.by_cell.get(h3.cell_to_parent(cell, r) if r < res else cell, ()))
        return tuple(sorted(found))


async def live_territories(org_id: uuid.UUID) -> list[tuple[str, list[str], str]]:
    """(id, cells, layer) of the territories in force now (an effective date still ahead is not)."""
    now = utcnow()
    return [(tid, stored_cells(cells), layer) for tid, cells, layer, start in
            await direct.fetch(LIVE_TERRITORIES_SQL, [org_id]) if as_datetime(start) <= now]


#: Cell ranges per ``UNION ALL`` read of the accounts in an area.
RANGES_PER_READ = 200


async def _accounts_in(org_id: uuid.UUID, area: Sequence[str]) -> list[tuple]:
    """Live accounts whose cell lies in ``area`` (cells of any resolution up to 9), by index ranges."""
    ranges = [child_range(c, POINT_RESOLUTION) for c in cell_set(area) if resolution_of(c) <= POINT_RESOLUTION]
    rows: list[tuple] = []
    for i in range(0, len(ranges), RANGES_PER_READ):
        part = ranges[i:i + RANGES_PER_READ]
        sql = " UNION ALL ".join([ACCOUNTS_SQL + " AND h3_cell BETWEEN ? AND ?"] * len(part))
        rows += await direct.fetch(sql, [a for lo, hi in part for a in (org_id, lo, hi)])
    return rows


async def _open_placements(org_id: uuid.UUID, account_ids: list[str] | None) -> list[tuple]:
    if account_ids is None:
        return await direct.fetch(OPEN_SQL, [org_id])
    rows: list[tuple] = []
    for condition, args in direct.in_lists("account_id", account_ids):
        rows += await direct.fetch(f"{OPEN_COLUMNS} WHERE valid_to IS NULL AND {condition}", args)
    return rows


async def place_accounts(org_id: uuid.UUID, account_ids: Sequence[uuid.UUID] | None = None, *,
                         area: Sequence[str] | None = None) -> Placed:
    """Bring placements in line with the territories' cells: the whole org's, or only those of
    ``account_ids``, or of the accounts inside ``area`` (the cells a redraw added or removed).

    Call inside ``unit_of_work()`` after territories or account locations change.
    """
    index = CellIndex((tid, cells) for tid, cells, _ in await live_territories(org_id))
    owners: dict[str, set[str]] = defaultdict(set)
    for tid, uid in await direct.fetch(OWNERS_SQL, [org_id]):
        owners[tid].add(uid)
    if area is not None:
        rows = await _accounts_in(org_id, area)
    elif account_ids is not None:
        rows = []
        for condition, args in direct.in_lists("id", [str(a) for a in account_ids]):
            rows += await direct.fetch(f"{ACCOUNTS_SQL} AND {condition}", [org_id, *args])
    else:
        rows = await direct.fetch(ACCOUNTS_SQL, [org_id])
    accounts = {aid: (cell, owner) for aid, cell, owner in rows}
    # Placements of the same accounts (a tombstoned one among ``account_ids`` has some to close).
    wanted = list(accounts) if area is not None else \
        [str(a) for a in account_ids] if account_ids is not None else None
    current: dict[str, dict[str, str]] = defaultdict(dict)
    for row_id, aid, tid in await _open_placements(org_id, wanted):
        current[aid][tid] = row_id
    # Tombstoned accounts keep no placement.
    to_close = [row for aid, placed in current.items() if aid not in accounts for row in placed.values()]
    to_open: list[tuple[str, str]] = []
    changed: dict[str, tuple[Held, Held]] = {}
    holders: dict[tuple, tuple[Held, Held]] = {}  # (owner, was, now) -> (old, new): few distinct ones
    empty: dict[str, str] = {}
    for aid, (cell, owner) in accounts.items():
        was = current.get(aid, empty)
        now = index.covering(cell)
        if len(now) == len(was) and all(t in was for t in now):
            continue
        to_close += [row for tid, row in was.items() if tid not in now]
        to_open += [(aid, tid) for tid in now if tid not in was]
        key = (owner, tuple(sorted(was)), now)
        pair = holders.get(key)
        if pair is None:
            base = {owner} if owner else set()
            pair = holders[key] = (frozenset(base.union(*(owners.get(t, ()) for t in was))),
                                   frozenset(base.union(*(owners.get(t, ()) for t in now))))
        if pair[0] != pair[1]:
            changed[aid] = pair
    await _write(org_id, to_close, to_open)
    version = await _announce(org_id, changed) if changed else None
    return Placed(len(to_open), len(to_close), len(changed), version)


async def _write(org_id: uuid.UUID, to_close: list[str], to_open: list[tuple[str, str]]) -> None:
    now, org = utcnow(), str(org_id)
    for condition, args in direct.in_lists("id", to_close):
        await direct.execute(f"UPDATE territory_accounts SET valid_to = ? WHERE {condition}", [now, *args])
    await insert_rows("territory_accounts", ("id", "org_id", "territory_id", "account_id", "valid_from", "valid_to"),
                      [(new_id_text(), org, tid, aid, now, None) for aid, tid in to_open])


async def _announce(org_id: uuid.UUID, changed: dict[str, tuple[Held, Held]]) -> int:
    """One version for every account whose holders changed; moves for those who lost some.

    Accounts that only gained holders need no move record: the new version
    brings them (and the rows hanging off them) to the new holders' phones.
    """
    version = await next_version(org_id)
    ids = sorted(changed)
    await bump_versions("accounts", org_id, ids, version)
    gained_only: list[str] = []
    lost: dict[Held, list[str]] = defaultdict(list)
    for aid in ids:
        old, new = changed[aid]
        (lost[old] if old - new else gained_only).append(aid)
    await carry_account_rows(org_id, gained_only, None, version)
    for old, group in sorted(lost.items(), key=lambda kv: sorted(kv[0])):
        held = frozenset(uuid.UUID(u) for u in old)
        await log_moves(org_id, "accounts", group, held, version)
        await carry_account_rows(org_id, group, held, version)
    everyone = frozenset(uuid.UUID(u) for u in frozenset().union(*(o | n for o, n in changed.values())))
    poke(org_id, everyone, version)
    return version
