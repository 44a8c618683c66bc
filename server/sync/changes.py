"""What a write means for sync: who holds the row, moves between scopes, and pokes.

The *holders* of a row are the users whose own scope covers it: its owner,
assignee or author, plus whoever owns the territory it lies in (for rows that
hang off an account, the account's holders). A non-admin sees a row when a
holder is one of their team members, so:

* a write pokes the devices of the row's old and new holders;
* a write that changes the holders (owner, account or territory) is logged in
  ``sync_moves`` with the old holders, so their next pull can list the row as
  ``removed`` if it left their scope; rows that hang off a moved account get a
  new version too, so their new holders receive them whatever their age.

Every function here runs inside the writer's ``unit_of_work()``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta

from server.access.scope import TIMELINE_DAYS
from server.accounts.tables import Account
from server.common.time import utcnow
from server.db import direct
from server.db.bulk import insert_rows
from server.db.clock import next_version
from server.geo.tables import Territory, TerritoryAccount, TerritoryOwner
from server.pipeline.tables import Lead
from server.sync.events import poke_after_commit
from server.sync.tables import SyncMove

Holders = frozenset[uuid.UUID]


def _spec(tablename: str):
    # Imported late: the registry imports the feature services, which write through here.
    from server.sync.registry import BY_TABLENAME

    return BY_TABLENAME.get(tablename)


async def territory_owners(org_id: uuid.UUID, territory_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, set[uuid.UUID]]:
    ids = sorted({t for t in territory_ids if t})
    out: dict[uuid.UUID, set[uuid.UUID]] = {t: set() for t in ids}
    if ids:
        rows = await TerritoryOwner.select(TerritoryOwner.territory_id, TerritoryOwner.user_id).where(
            (TerritoryOwner.org_id == org_id) & TerritoryOwner.territory_id.is_in(ids)
            & TerritoryOwner.valid_to.is_null()
        )
        for r in rows:
            out[r["territory_id"]].add(r["user_id"])
    return out


async def account_holders(org_id: uuid.UUID, account_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, set[uuid.UUID]]:
    ids = sorted({a for a in account_ids if a})
    out: dict[uuid.UUID, set[uuid.UUID]] = {a: set() for a in ids}
    if not ids:
        return out
    for r in await Account.select(Account.id, Account.owner_id).where(Account.id.is_in(ids)):
        if r["owner_id"]:
            out[r["id"]].add(r["owner_id"])
    placed = await TerritoryAccount.select(TerritoryAccount.account_id, TerritoryAccount.territory_id).where(
        (TerritoryAccount.org_id == org_id) & TerritoryAccount.account_id.is_in(ids)
        & TerritoryAccount.valid_to.is_null()
    )
    owners = await territory_owners(org_id, (r["territory_id"] for r in placed))
    for r in placed:
        out[r["account_id"]] |= owners.get(r["territory_id"], set())
    return out


async def holders_of(tablename: str, org_id: uuid.UUID, rows: list[dict]) -> list[Holders | None]:
    """Holders of each row (``None``: every user of the org may hold it, e.g. the directory)."""
    spec = _spec(tablename)
    if spec is None or not spec.scope_columns:
        if tablename == "territories":
            owners = await territory_owners(org_id, (r["id"] for r in rows))
            return [frozenset(owners.get(r["id"], ())) for r in rows]
        if tablename in CONTEST_TABLES:
            return await contest_holders(org_id, tablename, rows)
        return [None for _ in rows]
    accounts = await account_holders(org_id, (r.get(spec.account_column) for r in rows)) \
        if spec.account_column else {}
    if tablename == "accounts":
        accounts = await account_holders(org_id, (r["id"] for r in rows))
    territories = await territory_owners(org_id, (r.get(spec.territory_column) for r in rows)) \
        if spec.territory_column else {}
    out: list[Holders | None] = []
    for r in rows:
        held = {r[c] for c in spec.people if r.get(c)}
        if tablename == "accounts":
            held |= accounts.get(r["id"], set())
        if spec.account_column and r.get(spec.account_column):
            held |= accounts.get(r[spec.account_column], set())
        if spec.territory_column and r.get(spec.territory_column):
            held |= territories.get(r[spec.territory_column], set())
        out.append(frozenset(held))
    return out


#: Contest rows are held by the contest's participants and its author (their managers and the org's
#: admins see them through them), so a leaderboard change pokes those phones, not the whole org.
CONTEST_TABLES = {"contests": "id", "leaderboard_entries": "contest_id"}


async def contest_holders(org_id: uuid.UUID, tablename: str, rows: list[dict]) -> list[Holders | None]:
    from server.incentives.tables import Contest, ContestParticipant

    column = CONTEST_TABLES[tablename]
    ids = sorted({r[column] for r in rows if r.get(column)})
    held: dict[uuid.UUID, set[uuid.UUID]] = {i: set() for i in ids}
    if ids:
        for r in await Contest.select(Contest.id, Contest.created_by_id).where(
                (Contest.org_id == org_id) & Contest.id.is_in(ids)):
            held[r["id"]].add(r["created_by_id"])
        for r in await ContestParticipant.select(ContestParticipant.contest_id, ContestParticipant.user_id).where(
                (ContestParticipant.org_id == org_id) & ContestParticipant.contest_id.is_in(ids)):
            held[r["contest_id"]].add(r["user_id"])
    return [frozenset(held.get(r.get(column), ())) for r in rows]


def _encode_holders(holders: Holders | None) -> str:
    return ",".join(sorted(str(h) for h in holders or ()))


def decode_holders(text: str) -> set[str]:
    return {h for h in text.split(",") if h}


def poke(org_id: uuid.UUID, holders: Holders | None, version: int) -> None:
    poke_after_commit(org_id, holders, version)


async def written(tablename: str, before: dict | None, after: dict) -> None:
    """Record what one write of one synced row means for sync (call after the write)."""
    org_id, version = after["org_id"], after["version"]
    spec = _spec(tablename)
    [new] = await holders_of(tablename, org_id, [after])
    moved = before is not None and spec is not None and any(
        before.get(c) != after.get(c) for c in spec.scope_columns
    )
    old: Holders | None = None
    if moved:
        [old] = await holders_of(tablename, org_id, [before])
        await SyncMove.insert(SyncMove(org_id=org_id, version=version, table_name=tablename,
                                       row_id=after["id"], holders=_encode_holders(old)))
        if tablename == "accounts":
            await carry_account_rows(org_id, [after["id"]], old or frozenset(), version)
    poke(org_id, None if new is None or (moved and old is None) else (new | (old or frozenset())), version)


def poke_rows(org_id: uuid.UUID, held: list[Holders | None], version: int) -> None:
    """One poke for a bulk write, given each row's holders (from :func:`holders_of`)."""
    if held:
        union: Holders | None = None if any(h is None for h in held) else frozenset().union(*held)  # type: ignore[arg-type]
        poke(org_id, union, version)


async def carry_account_rows(org_id: uuid.UUID, account_ids: list, old: Holders | None,
                             version: int) -> None:
    """Rows hanging off moved accounts follow them: a new version, and a move record naming ``old``.

    ``old=None``: the accounts only gained holders, so nobody needs to hear that a
    row left; the new version alone brings the rows to the new holders.
    """
    from server.sync.registry import TABLES

    if not account_ids:
        return
    recent = utcnow() - timedelta(days=TIMELINE_DAYS)
    for spec in TABLES:
        if spec.account_column is None:
            continue
        recent_only = " AND occurred_at >= ?" if spec.name == "activities" else ""
        for condition, args in direct.in_lists(f'"{spec.account_column}"', account_ids):
            rows = await direct.fetch(
                f'UPDATE "{spec.name}" SET version = ? WHERE org_id = ? AND {condition}{recent_only} '
                "RETURNING CAST(id AS TEXT)", [version, org_id, *args, *([recent] if recent_only else [])])
            if old is not None:
                await log_moves(org_id, spec.name, [r[0] for r in rows], old, version)


async def bump_versions(tablename: str, org_id: uuid.UUID, row_ids: list, version: int) -> None:
    """Give many rows of one table a new version (set-based, any number of ids)."""
    for condition, args in direct.in_lists("id", row_ids):
        await direct.execute(f'UPDATE "{tablename}" SET version = ? WHERE org_id = ? AND {condition}',
                             [version, org_id, *args])


async def log_moves(org_id: uuid.UUID, tablename: str, row_ids: list, old: Holders | None,
                    version: int) -> None:
    """One ``sync_moves`` row per row id (UUIDs or their text), written in one driver call."""
    if row_ids:
        text, now = _encode_holders(old), utcnow()
        await insert_rows("sync_moves", ("org_id", "version", "table_name", "row_id", "holders", "created_at"),
                          [(org_id, version, tablename, r if isinstance(r, uuid.UUID) else uuid.UUID(r), text, now)
                           for r in row_ids])


async def territory_reassigned(org_id: uuid.UUID, territory_id: uuid.UUID, old_owners: Holders,
                               new_owners: Holders) -> int:
    """After a territory's owners changed: its rows move from the old owners to the new ones.

    The territory, its accounts with their contacts, opportunities and recent
    activities, and its unowned leads get a new version (so the new owners
    receive them on their next pull, whatever their age) and a move record
    naming the old owners (so their next pull lists what left their scope).
    """
    version = await next_version(org_id)
    await Territory.update({Territory.version: version}).where(
        (Territory.org_id == org_id) & (Territory.id == territory_id)
    )
    await log_moves(org_id, "territories", [territory_id], old_owners, version)
    placed = await TerritoryAccount.select(TerritoryAccount.account_id).where(
        (TerritoryAccount.org_id == org_id) & (TerritoryAccount.territory_id == territory_id)
        & TerritoryAccount.valid_to.is_null()
    )
    account_ids = [r["account_id"] for r in placed]
    if account_ids:
        await bump_versions("accounts", org_id, account_ids, version)
        await log_moves(org_id, "accounts", account_ids, old_owners, version)
        await carry_account_rows(org_id, account_ids, old_owners, version)
    leads = await Lead.update({Lead.version: version}).where(
        (Lead.org_id == org_id) & (Lead.territory_id == territory_id) & Lead.owner_id.is_null()
    ).returning(Lead.id)
    await log_moves(org_id, "leads", [r["id"] for r in leads], old_owners, version)
    poke(org_id, old_owners | new_owners, version)
    return version
