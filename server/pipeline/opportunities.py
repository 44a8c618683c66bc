"""Opportunities: deals with an amount, a stage and an expected close date.

Every stage move (and the first stage at creation) is written to the stage
history with the amount at that moment, which is what funnel conversion and
deal velocity reports are computed from. Closing a deal stamps ``closed_at``;
reopening it clears ``closed_at`` and the close reason.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import msgspec

from server.access.scope import Scope
from server.accounts.contacts import require_account
from server.common.errors import Invalid
from server.common.owners import check_owner
from server.common.records import (
    get_visible,
    insert_record,
    list_page,
    tombstone,
    update_record,
)
from server.common.schemas import patch_fields
from server.common.time import utcnow
from server.db.ids import new_id
from server.db.search import name_search
from server.orgs.tables import Organisation
from server.pipeline.schemas import CENTS, OpportunityIn, OpportunityPatch
from server.pipeline.tables import (
    CLOSED_STAGES,
    OPEN_STAGES,
    STAGE_PROBABILITY,
    Opportunity,
    StageChange,
)

#: NUMERIC(14, 2) holds amounts below 10^12.
MAX_AMOUNT = Decimal(10**12)
#: ``expected_close_date`` is nullable, so it cannot be a keyset sort; filter on it instead.
SORTS = {"name": "name", "-updated_at": "updated_at", "-created_at": "created_at"}


class OpportunityFilter(msgspec.Struct, kw_only=True):
    owner_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    stages: list[str] | None = None
    #: True: open stages only; False: closed only; None: both.
    is_open: bool | None = None
    q: str | None = None
    updated_since: datetime | None = None
    #: Inclusive bounds on ``expected_close_date``; deals without a date never match.
    close_after: date | None = None
    close_before: date | None = None


def check_amount(amount: Decimal, field: str = "amount") -> Decimal:
    """A money amount as stored: finite, 0 <= amount < 10^12, at most two decimals."""
    if not amount.is_finite() or not (0 <= amount < MAX_AMOUNT):
        raise Invalid(f"{field} must be between 0 and {MAX_AMOUNT}", field=field,
                      code="invalid_amount")
    if amount.quantize(CENTS) != amount:
        raise Invalid(f"{field} has at most two decimals", field=field, code="invalid_amount")
    return amount.quantize(CENTS)


async def base_currency(org_id: uuid.UUID) -> str:
    row = await Organisation.select(Organisation.base_currency).where(Organisation.id == org_id).first()
    return row["base_currency"] if row else "USD"


def _closing(stage: str, reason: str | None) -> dict:
    """``closed_at`` and ``close_reason`` for a deal entering ``stage`` now."""
    if stage in CLOSED_STAGES:
        if stage == "closed_lost" and not reason:
            raise Invalid("say why the deal was lost", field="close_reason", code="reason_required")
        return {"closed_at": utcnow(), "close_reason": reason}
    if reason is not None:
        raise Invalid("only closed deals have a close_reason", field="close_reason",
                      code="not_closed")
    return {"closed_at": None, "close_reason": None}


async def _record_stage(scope: Scope, row: dict, from_stage: str | None) -> None:
    await StageChange.insert(StageChange(
        id=new_id(), org_id=row["org_id"], opportunity_id=row["id"], from_stage=from_stage,
        to_stage=row["stage"], amount=row["amount"], changed_by_id=scope.principal.user_id,
        changed_at=utcnow(),
    ))


async def create_opportunity(scope: Scope, data: OpportunityIn,
                             lead_id: uuid.UUID | None = None) -> dict:
    """Create a deal on a visible account; ``lead_id`` is set by lead conversion only."""
    owner_id = data.owner_id if data.owner_id is not None else scope.principal.user_id
    await check_owner(scope, owner_id)
    await require_account(scope, data.account_id)
    values = msgspec.structs.asdict(data)
    values.pop("id")
    values.update(
        owner_id=owner_id, lead_id=lead_id, amount=check_amount(data.amount),
        currency=data.currency or await base_currency(scope.org_id),
        probability=STAGE_PROBABILITY[data.stage] if data.probability is None else data.probability,
        **_closing(data.stage, data.close_reason),
    )
    row = await insert_record(Opportunity, scope.org_id, values, record_id=data.id)
    await _record_stage(scope, row, None)
    return row


async def get_opportunity(scope: Scope, opportunity_id: uuid.UUID) -> dict:
    return await get_visible(Opportunity, scope.opportunities(), opportunity_id, "opportunity")


async def update_opportunity(scope: Scope, opportunity_id: uuid.UUID, patch: OpportunityPatch,
                             expected_version: int | None = None) -> dict:
    row = await get_opportunity(scope, opportunity_id)
    # If-Match first: a stale client gets 412, not a verdict on a stage it has not seen.
    await update_record(Opportunity, row, {}, expected_version)
    fields = patch_fields(patch)
    if "owner_id" in fields:
        await check_owner(scope, fields["owner_id"])
    if "account_id" in fields:
        await require_account(scope, fields["account_id"])
    changes = dict(fields)
    if "amount" in fields:
        changes["amount"] = check_amount(fields["amount"])
    stage = fields.get("stage", row["stage"])
    moved = stage != row["stage"]
    if moved:
        # A new stage starts from the patch's reason only: a loss reason never survives a win.
        changes.update(_closing(stage, fields.get("close_reason")))
        changes.setdefault("probability", STAGE_PROBABILITY[stage])
    elif "close_reason" in fields:
        if stage in OPEN_STAGES and fields["close_reason"] is not None:
            raise Invalid("only closed deals have a close_reason", field="close_reason",
                          code="not_closed")
        if stage == "closed_lost" and not fields["close_reason"]:
            raise Invalid("say why the deal was lost", field="close_reason", code="reason_required")
    updated = await update_record(Opportunity, row, changes, expected_version)
    if moved:
        await _record_stage(scope, updated, row["stage"])
    return updated


async def delete_opportunity(scope: Scope, opportunity_id: uuid.UUID) -> None:
    await tombstone(Opportunity, await get_opportunity(scope, opportunity_id))


async def stage_history(scope: Scope, opportunity_id: uuid.UUID) -> list[dict]:
    """The deal's stage moves, oldest first (404 when the deal is not in scope)."""
    await get_opportunity(scope, opportunity_id)
    return await StageChange.select().where(
        (StageChange.org_id == scope.org_id) & (StageChange.opportunity_id == opportunity_id)
    ).order_by(StageChange.changed_at, StageChange.id)


async def list_opportunities(scope: Scope, f: OpportunityFilter, *, sort: str = "name",
                             limit: int | None = None, cursor: str | None = None):
    cond = scope.opportunities()
    if f.owner_id is not None:
        cond = scope.owned_by(Opportunity, f.owner_id, cond)
    if f.account_id is not None:
        cond = cond & (Opportunity.account_id == f.account_id)
    if f.stages:
        cond = cond & Opportunity.stage.is_in(sorted(set(f.stages)))
    if f.is_open is not None:
        cond = cond & Opportunity.stage.is_in(list(OPEN_STAGES if f.is_open else CLOSED_STAGES))
    if f.updated_since is not None:
        cond = cond & (Opportunity.updated_at >= f.updated_since)
    if f.close_after is not None:
        cond = cond & (Opportunity.expected_close_date >= f.close_after)
    if f.close_before is not None:
        cond = cond & (Opportunity.expected_close_date <= f.close_before)
    if f.q is not None:
        cond = cond & name_search("opportunities", f.q)
    return await list_page(Opportunity, cond, sorts=SORTS, sort=sort, limit=limit, cursor=cursor)
