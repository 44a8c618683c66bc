"""Wire types for the pipeline: leads, opportunities, stage history and lead conversion.

Money is a ``Decimal`` on the wire both ways. msgspec reads it from a JSON
string or number and always writes it as a string (``"1250.00"``): a float
would lose cents, and every JSON client can parse a string exactly. Amounts
come out with two decimals on both engines.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from server.accounts.contact_schemas import ContactOut, JobTitle, PersonName
from server.accounts.schemas import AccountOut, AccountStatus
from server.common.schemas import (
    Currency,
    Email,
    Lat,
    Lng,
    Name,
    Page,
    Phone,
    ShortText,
)

# Spelled out for msgspec and the OpenAPI schema; tests check they match server.pipeline.tables.
LeadStatus = Literal["new", "contacted", "qualified", "converted", "disqualified"]
LeadSource = Literal["door_knock", "referral", "web", "event", "cold_call", "partner", "other"]
Stage = Literal["prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost"]

Company = Annotated[str, msgspec.Meta(max_length=200)]
Place = Annotated[str, msgspec.Meta(max_length=100)]
PostalCode = Annotated[str, msgspec.Meta(max_length=20)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Probability = Annotated[int, msgspec.Meta(ge=0, le=100)]
#: JSON string or number; msgspec cannot bound a Decimal, the service checks 0 <= amount < 10^12.
Money = Decimal


# -- leads -------------------------------------------------------------------
class LeadIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A new lead; it needs a first name, a last name or a company."""

    id: uuid.UUID | None = None
    #: Absent: the caller. ``null``: unowned, seen by the reps of the lead's territory.
    owner_id: uuid.UUID | None | UnsetType = UNSET
    #: ``converted`` only through ``POST /leads/{id}/convert``.
    status: LeadStatus = "new"
    source: LeadSource = "other"
    first_name: PersonName = ""
    last_name: PersonName = ""
    company: Company = ""
    title: JobTitle | None = None
    email: Email | None = None
    phone: Phone | None = None
    address_line: ShortText | None = None
    city: Place | None = None
    state: Place | None = None
    postal_code: PostalCode | None = None
    #: Together or not at all; they place the lead in an H3 cell and a territory.
    lat: Lat | None = None
    lng: Lng | None = None
    #: Required with status ``disqualified``.
    disqualified_reason: Reason | None = None


class LeadPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Only the fields present change; ``null`` clears a field. Converted leads are read-only."""

    owner_id: uuid.UUID | None | UnsetType = UNSET
    status: LeadStatus | UnsetType = UNSET
    source: LeadSource | UnsetType = UNSET
    first_name: PersonName | UnsetType = UNSET
    last_name: PersonName | UnsetType = UNSET
    company: Company | UnsetType = UNSET
    title: JobTitle | None | UnsetType = UNSET
    email: Email | None | UnsetType = UNSET
    phone: Phone | None | UnsetType = UNSET
    address_line: ShortText | None | UnsetType = UNSET
    city: Place | None | UnsetType = UNSET
    state: Place | None | UnsetType = UNSET
    postal_code: PostalCode | None | UnsetType = UNSET
    lat: Lat | None | UnsetType = UNSET
    lng: Lng | None | UnsetType = UNSET
    disqualified_reason: Reason | None | UnsetType = UNSET


class LeadOut(msgspec.Struct):
    id: uuid.UUID
    owner_id: uuid.UUID | None
    status: str
    source: str
    first_name: str
    last_name: str
    company: str
    title: str | None
    email: str | None
    phone_e164: str | None
    address_line: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    lat: float | None
    lng: float | None
    h3_cell: str | None
    #: Server-assigned from the lead's cell.
    territory_id: uuid.UUID | None
    #: Set by conversion.
    account_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    opportunity_id: uuid.UUID | None
    converted_at: datetime | None
    disqualified_reason: str | None
    version: int
    created_at: datetime
    updated_at: datetime


def lead_out(row: dict) -> LeadOut:
    return LeadOut(**{f: row[f] for f in LeadOut.__struct_fields__})


# -- opportunities -----------------------------------------------------------
class OpportunityIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id: uuid.UUID | None = None
    #: An account the caller can see (422 ``unknown_account`` otherwise).
    account_id: uuid.UUID
    #: Defaults to the caller.
    owner_id: uuid.UUID | None = None
    name: Name
    stage: Stage = "prospecting"
    amount: Money
    #: ISO 4217; defaults to the organisation's base currency.
    currency: Currency | None = None
    #: Percent; defaults to the stage's usual probability.
    probability: Probability | None = None
    expected_close_date: date | None = None
    #: Required for ``closed_lost``, accepted for ``closed_won``.
    close_reason: Reason | None = None


class OpportunityPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Only the fields present change. A stage move is recorded in the stage history."""

    account_id: uuid.UUID | UnsetType = UNSET
    owner_id: uuid.UUID | None | UnsetType = UNSET
    name: Name | UnsetType = UNSET
    stage: Stage | UnsetType = UNSET
    amount: Money | UnsetType = UNSET
    currency: Currency | UnsetType = UNSET
    #: Absent on a stage move: the new stage's usual probability.
    probability: Probability | UnsetType = UNSET
    expected_close_date: date | None | UnsetType = UNSET
    close_reason: Reason | None | UnsetType = UNSET


class OpportunityOut(msgspec.Struct):
    id: uuid.UUID
    account_id: uuid.UUID
    owner_id: uuid.UUID | None
    lead_id: uuid.UUID | None
    name: str
    stage: str
    #: A decimal string with two places, e.g. ``"1250.00"``.
    amount: Decimal
    currency: str
    probability: int
    expected_close_date: date | None
    closed_at: datetime | None
    close_reason: str | None
    version: int
    created_at: datetime
    updated_at: datetime


CENTS = Decimal("0.01")


def opportunity_out(row: dict) -> OpportunityOut:
    # SQLite hands NUMERIC back through a float ("1250.5"): give both engines' clients "1250.50".
    values = {f: row[f] for f in OpportunityOut.__struct_fields__}
    values["amount"] = Decimal(row["amount"]).quantize(CENTS)
    return OpportunityOut(**values)


class StageChangeOut(msgspec.Struct):
    id: uuid.UUID
    opportunity_id: uuid.UUID
    from_stage: str | None
    to_stage: str
    #: The deal's amount at the moment of the move.
    amount: Decimal
    changed_by_id: uuid.UUID | None
    changed_at: datetime


def stage_change_out(row: dict) -> StageChangeOut:
    values = {f: row[f] for f in StageChangeOut.__struct_fields__}
    values["amount"] = Decimal(row["amount"]).quantize(CENTS)
    return StageChangeOut(**values)


# -- lead conversion ---------------------------------------------------------
class ConvertAccount(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The account to create; address, location and phone come from the lead."""

    id: uuid.UUID | None = None
    #: Defaults to the lead's company (or the person's name when there is none).
    name: Name | None = None
    status: AccountStatus = "prospect"
    industry: ShortText | None = None
    website: ShortText | None = None


class ConvertContact(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The contact made from the lead's name, title, email and phone."""

    id: uuid.UUID | None = None


class ConvertOpportunity(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id: uuid.UUID | None = None
    name: Name
    amount: Money
    currency: Currency | None = None
    stage: Stage = "prospecting"
    probability: Probability | None = None
    expected_close_date: date | None = None
    close_reason: Reason | None = None


class ConvertIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Turn a lead into an account, a contact and (optionally) an opportunity, all or nothing.

    Give ``account_id`` to link an existing account, or ``account`` (or
    neither) to create one. ``contact`` absent: a contact is made when the
    lead names a person; ``null``: none. ``opportunity`` absent or ``null``:
    no deal. Client ids let a phone convert offline and sync later.
    """

    account_id: uuid.UUID | None = None
    account: ConvertAccount | None = None
    contact: ConvertContact | None | UnsetType = UNSET
    opportunity: ConvertOpportunity | None = None


class ConversionOut(msgspec.Struct):
    lead: LeadOut
    account: AccountOut
    contact: ContactOut | None
    opportunity: OpportunityOut | None


class LeadPage(Page[LeadOut]):
    """One keyset page; a named type so the phone's generated code gets a stable name."""


class OpportunityPage(Page[OpportunityOut]):
    """One keyset page; a named type so the phone's generated code gets a stable name."""
