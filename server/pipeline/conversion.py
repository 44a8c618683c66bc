"""Lead conversion: one flow over the account, contact, opportunity and lead services.

The rep's "this prospect is real" moment: the lead becomes (or joins) an
account, its person becomes a contact, and usually a deal is opened. It is
all or nothing: the caller runs :func:`convert_lead` inside one
``unit_of_work()``, so a bad opportunity (say a negative amount) raises after
the account and contact were inserted and the whole transaction rolls back,
leaving the lead unconverted. Each step goes through the owning service, so
the same validation and scope rules apply as for the single-record endpoints.

Client-chosen ids for the new records let a phone convert offline and replay
the conversion on sync without creating duplicates (a replay finds the lead
converted: 409 ``lead_converted``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import msgspec
from msgspec import UNSET

from server.access.scope import Scope
from server.accounts.contact_schemas import ContactIn
from server.accounts.contacts import create_contact, require_account
from server.accounts.schemas import AccountIn
from server.accounts.service import create_account
from server.common.errors import Conflict, Invalid
from server.pipeline import leads
from server.pipeline.opportunities import create_opportunity
from server.pipeline.schemas import (
    ConvertAccount,
    ConvertContact,
    ConvertIn,
    OpportunityIn,
)


@dataclass
class Conversion:
    lead: dict
    account: dict
    contact: dict | None
    opportunity: dict | None


def _person(lead: dict) -> str:
    return f"{lead['first_name']} {lead['last_name']}".strip()


def _account_in(lead: dict, spec: ConvertAccount, owner_id: uuid.UUID, with_contact: bool) -> AccountIn:
    """The account as the lead describes it; the person's email and phone go to the contact
    when there is one, else to the account so they are not lost."""
    return AccountIn(
        id=spec.id, name=spec.name or lead["company"].strip() or _person(lead), owner_id=owner_id,
        status=spec.status, industry=spec.industry, website=spec.website,
        phone=None if with_contact else lead["phone_e164"],
        email=None if with_contact else lead["email"],
        address_line=lead["address_line"], city=lead["city"], state=lead["state"],
        postal_code=lead["postal_code"], lat=lead["lat"], lng=lead["lng"],
    )


def _contact_in(lead: dict, spec: ConvertContact, account_id: uuid.UUID,
                owner_id: uuid.UUID) -> ContactIn:
    return ContactIn(
        id=spec.id, account_id=account_id, owner_id=owner_id, first_name=lead["first_name"],
        last_name=lead["last_name"], title=lead["title"], email=lead["email"],
        phone=lead["phone_e164"],
    )


async def convert_lead(scope: Scope, lead_id: uuid.UUID, data: ConvertIn,
                       expected_version: int | None = None) -> Conversion:
    """Create or link the account, create the contact and the deal, mark the lead converted.

    The new records belong to the lead's owner (the caller for an unowned
    lead). Run inside one ``unit_of_work()``.
    """
    if data.account_id is not None and data.account is not None:
        raise Invalid("give account_id to link an account or account to create one, not both",
                      field="account", code="ambiguous_account")
    lead = await leads.get_lead(scope, lead_id, lock=True)
    # Before If-Match: a phone replaying its offline conversion learns it already happened.
    if lead["status"] == "converted":
        raise Conflict("this lead is already converted", code="lead_converted",
                       extra={"account_id": str(lead["account_id"])})
    await leads.require_version(lead, expected_version)
    if lead["status"] == "disqualified":
        raise Conflict("reopen a disqualified lead before converting it", code="lead_disqualified")
    owner_id = lead["owner_id"] or scope.principal.user_id

    contact_spec = data.contact
    if contact_spec is UNSET:
        contact_spec = ConvertContact() if _person(lead) else None

    if data.account_id is not None:
        account = await require_account(scope, data.account_id)
    else:
        spec = data.account or ConvertAccount()
        account = await create_account(
            scope, _account_in(lead, spec, owner_id, with_contact=contact_spec is not None))

    contact = None
    if contact_spec is not None:
        contact = await create_contact(scope, _contact_in(lead, contact_spec, account["id"], owner_id))

    opportunity = None
    if data.opportunity is not None:
        opp_in = OpportunityIn(**msgspec.structs.asdict(data.opportunity),
                               account_id=account["id"], owner_id=owner_id)
        opportunity = await create_opportunity(scope, opp_in, lead_id=lead["id"])

    lead = await leads.mark_converted(
        lead, owner_id=owner_id, account_id=account["id"],
        contact_id=contact["id"] if contact else None,
        opportunity_id=opportunity["id"] if opportunity else None,
    )
    return Conversion(lead, account, contact, opportunity)
