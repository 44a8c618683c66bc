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
from typing import NamedTuple

import msgspec
from piccolo.querystring import QueryString

from server.accounts.tables import Account
from server.common.time import utcnow
from server.db.bulk import insert_rows
from server.db.clock import next_version
from server.db.engine import read_values
from server.db.ids import new_id
from server.geo.cells import cell_to_parent, is_valid_cell, resolution_of
from server.geo.tables import TerritoryAccount
from server.sync.changes import Holders, _carry_account_rows, log_moves, poke

#: Ids per ``IN (...)`` list: SQLite allows 32,766 parameters per statement.
CHUNK = 5_000

LIVE_TERRITORIES_SQL = ("SELECT id, cells, layer FROM territories WHERE org_id = {} AND deleted_at IS NULL "
                        "AND effective_to IS NULL AND effective_from <= {}")
OWNERS_SQL = "SELECT territory_id, user_id FROM territory_owners WHERE org_id = {} AND valid_to IS NULL"
ACCOUNTS_SQL = "SELECT id, h3_cell, owner_id FROM accounts WHERE org_id = {} AND deleted_at IS NULL"
OPEN_SQL = "SELECT id, account_id, territory_id FROM territory_accounts WHERE org_id = {} AND valid_to IS NULL"


class Placed(NamedTuple):
    opened: int
    closed: int
    moved_accounts: int
    version: int | None


class CellIndex:
    """Cells of many territories, looked up by any finer cell's ancestors (pure)."""

    def __init__(self, territories: Iterable[tuple[uuid.UUID, Sequence[str]]]) -> None:
        self.by_cell: dict[str, list[uuid.UUID]] = defaultdict(list)
        for territory_id, cells in territories:
            for cell in cells:
                if is_valid_cell(cell):
                    self.by_cell[cell].append(territory_id)
        self.resolutions = sorted({resolution_of(c) for c in self.by_cell})

    def covering(self, cell: str | None) -> tuple[uuid.UUID, ...]:
        """Territories whose cells hold ``cell`` (a point cell), sorted; () for none or no cell."""
        if not cell or not is_valid_cell(cell):
            return ()
        res = resolution_of(cell)
        found: set[uuid.UUID] = set()
        for r in self.resolutions:
            if r > res:
                break
            found.update(self.by_cell.get(cell_to_parent(cell, r), ()))
        return tuple(sorted(found))


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


async def live_territories(org_id: uuid.UUID) -> list[tuple[uuid.UUID, list[str], str]]:
    rows = await read_values(QueryString(LIVE_TERRITORIES_SQL, org_id, utcnow()))
    out = []
    for tid, cells, layer in rows:
        decoded = msgspec.json.decode(cells) if isinstance(cells, (str, bytes)) else cells
        out.append((_uuid(tid), list(decoded or ()), layer))
    return out


async def current_owners(org_id: uuid.UUID) -> dict[uuid.UUID, set[uuid.UUID]]:
    owners: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for tid, uid in await read_values(QueryString(OWNERS_SQL, org_id)):
        owners[_uuid(tid)].add(_uuid(uid))
    return owners


async def place_accounts(org_id: uuid.UUID, account_ids: Sequence[uuid.UUID] | None = None) -> Placed:
    """Bring the org's placements (or only ``account_ids``') in line with the territories' cells.

    Call inside ``unit_of_work()`` after territories or account locations change.
    """
    index = CellIndex((tid, cells) for tid, cells, _ in await live_territories(org_id))
    owners = await current_owners(org_id)
    wanted_ids = None if account_ids is None else {a for a in account_ids}
    accounts = {}
    for aid, cell, owner in await read_values(QueryString(ACCOUNTS_SQL, org_id)):
        aid = _uuid(aid)
        if wanted_ids is None or aid in wanted_ids:
            accounts[aid] = (cell, _uuid(owner) if owner else None)
    current: dict[uuid.UUID, dict[uuid.UUID, uuid.UUID]] = defaultdict(dict)
    for row_id, aid, tid in await read_values(QueryString(OPEN_SQL, org_id)):
        aid = _uuid(aid)
        if wanted_ids is None or aid in wanted_ids:
            current[aid][_uuid(tid)] = _uuid(row_id)
    # Tombstoned accounts keep no placement.
    to_close = [row for aid, placed in current.items() if aid not in accounts for row in placed.values()]
    to_open: list[tuple[uuid.UUID, uuid.UUID]] = []
    changed: dict[uuid.UUID, tuple[Holders, Holders]] = {}
    for aid, (cell, owner) in accounts.items():
        was = current.get(aid, {})
        now = index.covering(cell)
        if set(now) == set(was):
            continue
        to_close += [row for tid, row in was.items() if tid not in now]
        to_open += [(aid, tid) for tid in now if tid not in was]
        base = {owner} if owner else set()
        old = frozenset(base.union(*(owners.get(t, ()) for t in was)))
        new = frozenset(base.union(*(owners.get(t, ()) for t in now)))
        if old != new:
            changed[aid] = (old, new)
    await _write(org_id, to_close, to_open)
    version = await _announce(org_id, changed) if changed else None
    return Placed(len(to_open), len(to_close), len(changed), version)


async def _write(org_id: uuid.UUID, to_close: list[uuid.UUID], to_open: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
    now = utcnow()
    for i in range(0, len(to_close), CHUNK):
        await TerritoryAccount.update({TerritoryAccount.valid_to: now}).where(
            TerritoryAccount.id.is_in(to_close[i:i + CHUNK])
        )
    await insert_rows("territory_accounts", ("id", "org_id", "territory_id", "account_id", "valid_from", "valid_to"),
                      [(new_id(), org_id, tid, aid, now, None) for aid, tid in to_open])


async def _announce(org_id: uuid.UUID, changed: dict[uuid.UUID, tuple[Holders, Holders]]) -> int:
    """One version for every account whose holders changed; moves for those who lost them."""
    version = await next_version(org_id)
    ids = sorted(changed)
    for i in range(0, len(ids), CHUNK):
        await Account.update({Account.version: version}).where(
            (Account.org_id == org_id) & Account.id.is_in(ids[i:i + CHUNK])
        )
    by_old: dict[Holders, list[uuid.UUID]] = defaultdict(list)
    for aid in ids:
        old, _ = changed[aid]
        by_old[old].append(aid)
    for old, group in sorted(by_old.items(), key=lambda kv: sorted(map(str, kv[0]))):
        for i in range(0, len(group), CHUNK):
            chunk = group[i:i + CHUNK]
            await log_moves(org_id, "accounts", chunk, old, version)
            await _carry_account_rows(org_id, chunk, old, version)
    poke(org_id, frozenset().union(*(o | n for o, n in changed.values())), version)
    return version
