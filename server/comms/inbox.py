"""The admins' inbox: inbound texts, calls and emails nobody could be found for.

``server.comms.inbound`` puts a message here when it matches no conversation,
contact or account. An org admin then either assigns it (to a contact and/or
account; the rep defaults to the account's owner), which logs the inbound
activity on that rep's timeline exactly as a matched message would have been,
or dismisses it (spam, wrong number). Either resolves the item for good
(409 ``already_resolved`` after), and assigning is audited.

Inbox items are org rows, not synced ones (phones never see them): no version,
no tombstone; the list is a keyset page over ``(received_at, id)``, newest first.
The wire types live here, as in ``template_service``: the service takes and the
route returns them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import msgspec

from server.access.scope import Scope
from server.accounts.tables import Account, Contact
from server.audit.log import audit
from server.common.errors import Conflict, Forbidden, Invalid, NotFound
from server.common.keyset import after, clamp_limit, decode_cursor, encode_cursor
from server.common.schemas import Page
from server.common.time import utcnow
from server.comms import inbound
from server.comms.inbound import Inbound, Match
from server.comms.tables import InboxItem
from server.users.tables import User

#: The only order: newest received first (the cursor names it, so a foreign cursor is refused).
SORT = "-received_at"
InboxState = Literal["open", "assigned", "dismissed"]
InboxChannel = Literal["email", "text", "call"]


class InboxItemOut(msgspec.Struct):
    id: uuid.UUID
    channel: str
    sender: str
    recipient: str | None
    subject: str | None
    body: str | None
    occurred_at: datetime
    received_at: datetime
    provider_ref: str | None
    state: str
    #: The activity an assignment created (null until assigned).
    activity_id: uuid.UUID | None
    resolved_by_id: uuid.UUID | None
    resolved_at: datetime | None


class InboxPage(Page[InboxItemOut]):
    """One keyset page; a named type so generated clients get a stable name."""


class InboxAssignIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Whom the message is from: a contact, an account or both (at least one).

    The rep defaults to the account's owner (the contact's account when only the contact is given),
    else the contact's owner.
    """

    contact_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    rep_id: uuid.UUID | None = None


def inbox_out(row: dict) -> InboxItemOut:
    return InboxItemOut(**{f: row[f] for f in InboxItemOut.__struct_fields__})


def _require_admin(scope: Scope) -> None:
    if not scope.principal.is_admin:
        raise Forbidden("only admins sort out the inbox", code="admin_only")


async def list_items(scope: Scope, *, state: str | None = None, channel: str | None = None,
                     limit: int | None = None, cursor: str | None = None) -> tuple[list[dict], str | None]:
    """One page of the org's inbox, newest first (``state``/``channel`` narrow it)."""
    _require_admin(scope)
    limit = clamp_limit(limit)
    where = InboxItem.org_id == scope.org_id
    if state is not None:
        where = where & (InboxItem.state == state)
    if channel is not None:
        where = where & (InboxItem.channel == channel)
    if cursor:
        value, last_id = decode_cursor(cursor, SORT)
        where = where & after(InboxItem.received_at, InboxItem.id, value, last_id, descending=True)
    rows = await InboxItem.select().where(where).order_by(
        InboxItem.received_at, InboxItem.id, ascending=False).limit(limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(SORT, rows[-1]["received_at"], rows[-1]["id"]) if more else None


async def get_item(scope: Scope, item_id: uuid.UUID) -> dict:
    """An item of the caller's org; another org's answers exactly like a missing one."""
    _require_admin(scope)
    row = await InboxItem.select().where(
        (InboxItem.org_id == scope.org_id) & (InboxItem.id == item_id)).first()
    if row is None:
        raise NotFound("inbox item not found")
    return row


async def _open_item(scope: Scope, item_id: uuid.UUID) -> dict:
    row = await get_item(scope, item_id)
    if row["state"] != "open":
        raise Conflict(f"the item is {row['state']} already", code="already_resolved")
    return row


async def _live(table, org_id: uuid.UUID, record_id: uuid.UUID, thing: str) -> dict:
    """A live record of the org (admins see the whole org), else 422 ``unknown_<thing>``."""
    row = await table.select().where(
        (table.org_id == org_id) & (table.id == record_id) & table.deleted_at.is_null()).first()
    if row is None:
        raise Invalid(f"no such {thing}", field=f"{thing}_id", code=f"unknown_{thing}")
    return row


async def _resolve(scope: Scope, row: dict, state: str, activity_id: uuid.UUID | None) -> dict:
    """Close an open item; only the request that moved it from open wins (409 for a concurrent one)."""
    now = utcnow()
    moved = await InboxItem.update({
        InboxItem.state: state, InboxItem.activity_id: activity_id,
        InboxItem.resolved_by_id: scope.principal.user_id, InboxItem.resolved_at: now,
    }).where((InboxItem.id == row["id"]) & (InboxItem.state == "open")).returning(InboxItem.id)
    if not moved:
        raise Conflict("the item was resolved meanwhile", code="already_resolved")
    return {**row, "state": state, "activity_id": activity_id,
            "resolved_by_id": scope.principal.user_id, "resolved_at": now}


async def assign_item(scope: Scope, item_id: uuid.UUID, data: InboxAssignIn) -> dict:
    """Log the item as an inbound activity of a contact/account and its rep; the item becomes assigned."""
    row = await _open_item(scope, item_id)
    if data.contact_id is None and data.account_id is None:
        raise Invalid("name the contact or the account the message is from", field="contact_id",
                      code="contact_or_account_required")
    account_id, contact_owner = data.account_id, None
    if data.contact_id is not None:
        contact = await _live(Contact, scope.org_id, data.contact_id, "contact")
        contact_owner = contact["owner_id"]
        if account_id is None:
            account_id = contact["account_id"]
        elif contact["account_id"] is not None and contact["account_id"] != account_id:
            raise Invalid("the contact is at another account", field="contact_id",
                          code="contact_not_at_account")
    owner_id = None
    if account_id is not None:
        account = await _live(Account, scope.org_id, account_id, "account")
        owner_id = account["owner_id"]
    # As inbound matching does: the account's owner, else the contact's.
    rep_id = data.rep_id or owner_id or contact_owner
    if rep_id is None:
        raise Invalid("nobody owns the account or contact: name the rep", field="rep_id", code="no_rep")
    rep = await User.select(User.id).where(
        (User.org_id == scope.org_id) & (User.id == rep_id) & User.deleted_at.is_null() & User.active.eq(True)
    ).first()
    if rep is None:
        raise Invalid("no such active user", field="rep_id", code="unknown_rep")
    msg = Inbound(channel=row["channel"], sender=row["sender"], recipient=row["recipient"],
                  subject=row["subject"], body=row["body"], occurred_at=row["occurred_at"],
                  provider="inbox", ref=row["provider_ref"] or str(row["id"]))
    activity = await inbound.log_activity(scope.org_id, msg, Match(rep_id, account_id, data.contact_id))
    resolved = await _resolve(scope, row, "assigned", activity["id"])
    await audit(scope, "inbox_item.assigned", "comms_inbox", row["id"],
                {"activity_id": str(activity["id"]), "rep_id": str(rep_id),
                 "account_id": str(account_id) if account_id else None,
                 "contact_id": str(data.contact_id) if data.contact_id else None})
    return resolved


async def dismiss_item(scope: Scope, item_id: uuid.UUID) -> dict:
    row = await _open_item(scope, item_id)
    resolved = await _resolve(scope, row, "dismissed", None)
    await audit(scope, "inbox_item.dismissed", "comms_inbox", row["id"])
    return resolved
