"""Accounts: the customers and prospects reps visit."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import msgspec
from msgspec import UNSET
from piccolo.querystring import QueryString

from server.access.scope import Scope
from server.accounts.location_history import record_location_change
from server.accounts.schemas import (
    ACCOUNT_OUT_COLUMNS,
    AccountIn,
    AccountOut,
    AccountPatch,
    accounts_out,
)
from server.accounts.tables import Account
from server.common.errors import Invalid
from server.common.keyset import encode_cursor
from server.common.location import point_columns
from server.common.owners import check_owner
from server.common.phones import normalize_phone
from server.common.records import (
    get_visible,
    insert_record,
    page_query,
    tombstone,
    update_record,
)
from server.common.schemas import patch_fields
from server.db.engine import read_values
from server.db.search import name_search
from server.geo.placement import place_accounts

MAX_POTENTIAL = Decimal(10**12)
SORTS = {"name": "name", "-updated_at": "updated_at", "-created_at": "created_at"}
#: What a listing reads: AccountOut's fields, in order.
_COLUMNS = ", ".join(f"accounts.{c}" for c in ACCOUNT_OUT_COLUMNS)


class AccountFilter(msgspec.Struct, kw_only=True):
    owner_id: uuid.UUID | None = None
    unowned: bool = False
    status: str | None = None
    q: str | None = None
    updated_since: datetime | None = None
    h3_cell: str | None = None


def _values(fields: dict) -> dict:
    """Wire fields -> columns: phone normalised, location with its H3 cell."""
    out = dict(fields)
    out.pop("id", None)
    potential = out.get("potential")
    if potential is not None and not (0 <= potential <= MAX_POTENTIAL):
        raise Invalid(f"potential must be between 0 and {MAX_POTENTIAL}", field="potential")
    if "phone" in out:
        out["phone_e164"] = normalize_phone(out.pop("phone"), field="phone")
    return out


async def create_account(scope: Scope, data: AccountIn) -> dict:
    owner_id = scope.principal.user_id if data.owner_id is UNSET else data.owner_id
    await check_owner(scope, owner_id)
    values = _values(msgspec.structs.asdict(data))
    values.update(point_columns(data.lat, data.lng), owner_id=owner_id)
    row = await insert_record(Account, scope.org_id, values, record_id=data.id)
    if row["h3_cell"]:
        await _placed(row)
    return row


async def _placed(row: dict) -> None:
    """Put the account in the territories covering its cell (a new version if that moved it)."""
    await place_accounts(row["org_id"], [row["id"]])


async def get_account(scope: Scope, account_id: uuid.UUID) -> dict:
    return await get_visible(Account, scope.accounts(), account_id, "account")


async def update_account(scope: Scope, account_id: uuid.UUID, patch: AccountPatch,
                         expected_version: int | None = None) -> dict:
    row = await get_account(scope, account_id)
    fields = patch_fields(patch)
    if "owner_id" in fields:
        await check_owner(scope, fields["owner_id"])
    changes = _values(fields)
    if "lat" in fields or "lng" in fields:
        changes.update(point_columns(fields.get("lat", row["lat"]), fields.get("lng", row["lng"])))
    updated = await update_record(Account, row, changes, expected_version)
    if (updated["lat"], updated["lng"]) != (row["lat"], row["lng"]):
        await record_location_change(scope, row, updated)  # check-ins use the location at the visit
    if updated["h3_cell"] != row["h3_cell"]:
        await _placed(updated)
    return updated


async def delete_account(scope: Scope, account_id: uuid.UUID) -> None:
    row = await get_account(scope, account_id)
    await tombstone(Account, row)
    await _placed(row)


async def list_accounts(scope: Scope, f: AccountFilter, *, sort: str = "name", limit: int | None = None,
                        cursor: str | None = None) -> tuple[list[AccountOut], str | None]:
    """One keyset page of the accounts in scope that match ``f``, and the next page's cursor."""
    return await _page(filter_condition(scope, f), sort=sort, limit=limit, cursor=cursor)


def filter_condition(scope: Scope, f: AccountFilter):
    """The accounts in scope that match ``f``, as a Piccolo condition."""
    cond = scope.accounts()
    if f.owner_id is not None:
        cond = scope.owned_by(Account, f.owner_id, cond)
    if f.unowned:
        cond = cond & Account.owner_id.is_null()
    if f.status is not None:
        cond = cond & (Account.status == f.status)
    if f.updated_since is not None:
        cond = cond & (Account.updated_at >= f.updated_since)
    if f.h3_cell is not None:
        cond = cond & (Account.h3_cell == f.h3_cell)
    if f.q is not None:
        cond = cond & name_search("accounts", f.q)
    return cond


async def _page(condition, *, sort: str, limit: int | None,
                cursor: str | None) -> tuple[list[AccountOut], str | None]:
    """``records.list_page`` for accounts, read as plain values straight into AccountOut.

    Piccolo's select building and per-value converters cost more CPU than the
    database's work for a page (bench/list_accounts.py); only the condition is
    Piccolo's, compiled on its own. The read runs on a pooled connection.
    """
    q = page_query(Account, condition, sorts=SORTS, sort=sort, limit=limit, cursor=cursor)
    where, limit = q.where, q.limit
    order = "DESC" if q.descending else "ASC"
    sql = (f"SELECT {_COLUMNS} FROM accounts WHERE {{}} "
           f"ORDER BY accounts.{SORTS[sort]} {order}, accounts.id {order} LIMIT {limit + 1}")
    rows = accounts_out(await read_values(QueryString(sql, where.querystring)))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(sort, getattr(rows[-1], SORTS[sort]), rows[-1].id)
