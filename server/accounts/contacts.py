"""Contacts: the people at an account (or not yet at one) that reps call and visit.

Visibility follows the scope matrix: a contact is seen by its owner's chain
and by whoever sees its account. Linking a contact to an account therefore
needs an account the caller can already see, so nobody can use a contact to
reach into another rep's customers.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from server.access.scope import Scope
from server.accounts.contact_schemas import ContactIn, ContactPatch
from server.accounts.service import get_account
from server.accounts.tables import Contact
from server.common.errors import Invalid, NotFound
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

#: ``name`` orders by last name, then id (the contacts_org_name index).
SORTS = {"name": "last_name", "-updated_at": "updated_at", "-created_at": "created_at"}


class ContactFilter(msgspec.Struct, kw_only=True):
    account_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    q: str | None = None
    updated_since: datetime | None = None


async def require_account(scope: Scope, account_id: uuid.UUID, field: str = "account_id") -> dict:
    """The account row if the caller sees it; else 422 ``unknown_account``.

    A 422 rather than a 404: the URL exists, it is a reference inside the body
    that is wrong. Accounts outside scope answer exactly like missing ones.
    """
    try:
        return await get_account(scope, account_id)
    except NotFound:
        raise Invalid("no such account", field=field, code="unknown_account") from None


def _check_name(first_name: str, last_name: str) -> None:
    if not first_name.strip() and not last_name.strip():
        raise Invalid("a contact needs a first or a last name", field="last_name",
                      code="name_required")


def _values(fields: dict) -> dict:
    """Wire fields -> columns: phone numbers normalised to E.164."""
    out = dict(fields)
    out.pop("id", None)
    for wire, column in (("phone", "phone_e164"), ("mobile", "mobile_e164")):
        if wire in out:
            out[column] = normalize_phone(out.pop(wire), field=wire)
    return out


async def create_contact(scope: Scope, data: ContactIn) -> dict:
    _check_name(data.first_name, data.last_name)
    owner_id = data.owner_id if data.owner_id is not None else scope.principal.user_id
    await check_owner(scope, owner_id)
    if data.account_id is not None:
        await require_account(scope, data.account_id)
    values = _values(msgspec.structs.asdict(data))
    values["owner_id"] = owner_id
    return await insert_record(Contact, scope.org_id, values, record_id=data.id)


async def get_contact(scope: Scope, contact_id: uuid.UUID) -> dict:
    return await get_visible(Contact, scope.contacts(), contact_id, "contact")


async def update_contact(scope: Scope, contact_id: uuid.UUID, patch: ContactPatch,
                         expected_version: int | None = None) -> dict:
    row = await get_contact(scope, contact_id)
    fields = patch_fields(patch)
    _check_name(fields.get("first_name", row["first_name"]), fields.get("last_name", row["last_name"]))
    if "owner_id" in fields:
        await check_owner(scope, fields["owner_id"])
    if fields.get("account_id") is not None:
        await require_account(scope, fields["account_id"])
    return await update_record(Contact, row, _values(fields), expected_version)


async def delete_contact(scope: Scope, contact_id: uuid.UUID) -> None:
    await tombstone(Contact, await get_contact(scope, contact_id))


async def list_contacts(scope: Scope, f: ContactFilter, *, sort: str = "name",
                        limit: int | None = None, cursor: str | None = None):
    cond = scope.contacts()
    if f.account_id is not None:
        cond = cond & (Contact.account_id == f.account_id)
    if f.owner_id is not None:
        cond = scope.owned_by(Contact, f.owner_id, cond)
    if f.updated_since is not None:
        cond = cond & (Contact.updated_at >= f.updated_since)
    if f.q is not None:
        cond = cond & name_search("contacts", f.q)
    return await list_page(Contact, cond, sorts=SORTS, sort=sort, limit=limit, cursor=cursor)
