"""Accounts: the customers and prospects reps visit."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import msgspec
from msgspec import UNSET

from server.access.scope import Scope
from server.accounts.schemas import AccountIn, AccountPatch
from server.accounts.tables import Account
from server.common.errors import Invalid
from server.common.location import point_columns
from server.common.owners import check_owner
from server.common.phones import normalize_phone
from server.common.records import (
    get_visible,
    insert_record,
    list_page,
    tombstone,
    update_record,
)
from server.common.schemas import patch_fields
from server.db.search import name_search

MAX_POTENTIAL = Decimal(10**12)
SORTS = {"name": "name", "-updated_at": "updated_at", "-created_at": "created_at"}


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
    return await insert_record(Account, scope.org_id, values, record_id=data.id)


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
    return await update_record(Account, row, changes, expected_version)


async def delete_account(scope: Scope, account_id: uuid.UUID) -> None:
    await tombstone(Account, await get_account(scope, account_id))


async def list_accounts(scope: Scope, f: AccountFilter, *, sort: str = "name",
                        limit: int | None = None, cursor: str | None = None):
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
    return await list_page(Account, cond, sorts=SORTS, sort=sort, limit=limit, cursor=cursor)
