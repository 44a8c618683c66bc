"""Click-to-call: the provider rings the rep's phone, then connects the customer.

The call is an activity (type ``call``, direction ``out``, status ``queued``)
queued in the outbox in the same transaction, so the provider is asked after
commit, once, even when the request is retried under the same id. The
provider's callbacks (``server.comms.inbound.call_status``) then fill in the
outcome and duration, and verify the call when the customer leg lasted the
org's minimum.
"""

from __future__ import annotations

import uuid

import msgspec

from server.access.scope import Scope
from server.accounts.tables import Account, Contact
from server.common.errors import Conflict, Invalid
from server.common.phones import normalize_phone
from server.common.records import get_visible
from server.common.time import utcnow
from server.comms import outbox
from server.comms.activities import create_activity, lock_id
from server.comms.schemas import ActivityIn, Counterpart
from server.comms.tables import Activity
from server.users.tables import User


class CallIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: Chosen by the phone so that a retried request rings nobody twice.
    id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    lead_id: uuid.UUID | None = None
    opportunity_id: uuid.UUID | None = None
    #: The number to call; defaults to the contact's, then the account's.
    to: Counterpart | None = None


async def _number(scope: Scope, data: CallIn) -> str | None:
    if data.to:
        return normalize_phone(data.to, field="to")
    if data.contact_id is not None:
        contact = await get_visible(Contact, scope.contacts(), data.contact_id, "contact")
        if contact["phone_e164"]:
            return contact["phone_e164"]
    if data.account_id is not None:
        account = await get_visible(Account, scope.accounts(), data.account_id, "account")
        return account["phone_e164"]
    return None


async def start_call(scope: Scope, data: CallIn) -> tuple[dict, bool]:
    """Queue a click-to-call; ``(row, created)``, ``created`` False when the id was already used for it."""
    if data.id is not None:
        await lock_id(data.id)
        existing = await Activity.select().where(Activity.id == data.id).first()
        if existing is not None:
            if (existing["org_id"] == scope.org_id and existing["rep_id"] == scope.principal.user_id
                    and existing["type"] == "call" and existing["deleted_at"] is None):
                return existing, False
            raise Conflict(f"id {data.id} is already taken", code="id_taken", field="id")
    rep = await User.select(User.phone_e164).where(User.id == scope.principal.user_id).first()
    if not rep or not rep["phone_e164"]:
        raise Invalid("the provider rings you first: add your phone number to your profile",
                      field="phone", code="rep_has_no_phone")
    number = await _number(scope, data)
    if not number:
        raise Invalid("no number to call: give `to`, or a contact or account with a phone number",
                      field="to", code="no_phone_number")
    call = ActivityIn(id=data.id, type="call", direction="out", occurred_at=utcnow(), counterpart=number,
                      contact_id=data.contact_id, account_id=data.account_id, lead_id=data.lead_id,
                      opportunity_id=data.opportunity_id)
    row, _ = await create_activity(scope, call, server_values={"status": "queued"})
    await outbox.enqueue(scope.org_id, [row], channel="call")
    return row, True
