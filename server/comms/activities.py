"""The activity log: visits, calls, texts, emails, meetings and notes reps record.

Phones create activities insert-if-absent under their own UUIDs, so a request
retried after a lost response stores nothing twice. The columns the phone sets
are fixed at insert; an amendment changes only ``AMENDABLE`` columns.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import msgspec
from piccolo.table import Table

from server.access.scope import Scope
from server.accounts.tables import Account, Contact
from server.common.errors import Conflict, Forbidden, Invalid, NotFound
from server.common.location import check_point
from server.common.phones import normalize_phone
from server.common.records import (
    get_visible,
    insert_record,
    list_page,
    tombstone,
    update_record,
)
from server.common.schemas import patch_fields
from server.common.time import utcnow
from server.comms.schemas import AMENDABLE, ActivityIn, ActivityPatch
from server.comms.tables import Activity
from server.db.engine import is_sqlite
from server.pipeline.tables import Lead, Opportunity
from server.users.service import normalize_email

SORTS = {"-occurred_at": "occurred_at", "-updated_at": "updated_at"}
#: Device clocks drift; a little future is tolerated, more is a wrong clock.
MAX_FUTURE = timedelta(minutes=10)
MAX_AGE = timedelta(days=365)
OUTCOMES = {
    "call": ("connected", "voicemail", "no_answer", "busy", "failed"),
    "visit": ("met", "not_available", "left_material", "closed"),
}
MESSAGE_TYPES = ("text", "email")
PHONE_TYPES = ("call", "text")
#: The columns a create sets from the request: compared to decide "same content".
CONTENT = (
    "type", "direction", "outcome", "occurred_at", "ended_at", "duration_s", "lat", "lng",
    "accuracy_m", "mock_location", "account_id", "contact_id", "lead_id", "opportunity_id",
    "subject", "body", "counterpart", "status",
)


class ActivityFilter(msgspec.Struct, kw_only=True):
    rep_id: uuid.UUID | None = None
    types: list[str] | None = None
    account_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    lead_id: uuid.UUID | None = None
    opportunity_id: uuid.UUID | None = None
    occurred_after: datetime | None = None
    occurred_before: datetime | None = None
    updated_since: datetime | None = None
    status: str | None = None


# -- linked records --------------------------------------------------------------
def link_conditions(scope: Scope) -> dict[str, tuple[type[Table], object]]:
    return {
        "account": (Account, scope.accounts()),
        "contact": (Contact, scope.contacts()),
        "lead": (Lead, scope.leads()),
        "opportunity": (Opportunity, scope.opportunities()),
    }


async def check_links(scope: Scope, values: dict) -> None:
    """Each ``<thing>_id`` in ``values`` must name a live record the caller sees.

    Shared with tasks and appointments. A record outside the scope is reported
    exactly like one that does not exist (422 ``unknown_<thing>``).
    """
    for thing, (table, condition) in link_conditions(scope).items():
        record_id = values.get(f"{thing}_id")
        if record_id is None:
            continue
        try:
            await get_visible(table, condition, record_id, thing)
        except NotFound:
            raise Invalid(f"no such {thing}", field=f"{thing}_id", code=f"unknown_{thing}") from None


# -- validation --------------------------------------------------------------------
def utc(value: datetime | None) -> datetime | None:
    """Aware datetimes in UTC; a naive one (query strings) is taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _check_outcome(kind: str, outcome: str | None) -> None:
    allowed = OUTCOMES.get(kind)
    if outcome is not None and allowed and outcome not in allowed:
        raise Invalid(f"a {kind} outcome is one of {', '.join(allowed)}", field="outcome",
                      code="invalid_outcome")


def _check_end(occurred_at: datetime, ended_at: datetime | None) -> None:
    if ended_at is not None and ended_at < occurred_at:
        raise Invalid("ended_at is before occurred_at", field="ended_at")


def _counterpart(kind: str, raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    if kind in PHONE_TYPES:
        return normalize_phone(raw, field="counterpart")
    if kind == "email":
        try:
            return normalize_email(raw)
        except Invalid:
            raise Invalid(f"not an email address: {raw!r}", field="counterpart",
                          code="invalid_email") from None
    return raw.strip()


def activity_values(data: ActivityIn, now: datetime) -> dict:
    """Validated, normalised client-owned columns of a new activity."""
    occurred_at = utc(data.occurred_at)
    assert occurred_at is not None
    if occurred_at > now + MAX_FUTURE:
        raise Invalid("occurred_at is in the future; check the device clock",
                      field="occurred_at", code="occurred_in_future")
    if occurred_at < now - MAX_AGE:
        raise Invalid("occurred_at is more than a year ago", field="occurred_at",
                      code="occurred_too_long_ago")
    ended_at = utc(data.ended_at)
    _check_end(occurred_at, ended_at)
    _check_outcome(data.type, data.outcome)
    check_point(data.lat, data.lng)
    if data.status is not None and data.type not in MESSAGE_TYPES:
        raise Invalid("only texts and emails have a status", field="status")
    values = {f: getattr(data, f) for f in CONTENT}
    values.update(occurred_at=occurred_at, ended_at=ended_at,
                  counterpart=_counterpart(data.type, data.counterpart))
    return values


async def lock_id(record_id: uuid.UUID) -> None:
    """Serialise concurrent uploads of one id (a retry racing the original request).

    The loser then finds the winner's committed row and answers as a replay
    instead of failing on the primary key. SQLite's ``BEGIN IMMEDIATE`` already
    serialises whole write transactions.
    """
    if not is_sqlite():
        await Activity.raw("SELECT pg_advisory_xact_lock(hashtextextended({}, 0))", str(record_id))


def same_content(row: dict, values: dict) -> bool:
    return all(row[f] == values[f] for f in CONTENT)


# -- use cases -----------------------------------------------------------------------
async def create_activity(scope: Scope, data: ActivityIn) -> tuple[dict, bool]:
    """Insert-if-absent. Returns ``(row, created)``; ``created`` is False for a replay.

    The same id from the same rep with the same content is a retry and returns
    the stored row; anything else under a taken id is ``Conflict`` (``id_taken``),
    whoever holds it, so an id never reveals another org's or rep's activity.
    """
    now = utcnow()
    values = activity_values(data, now)
    if data.id is not None:
        await lock_id(data.id)
        existing = await Activity.select().where(Activity.id == data.id).first()
        if existing is not None:
            if (existing["org_id"] == scope.org_id and existing["rep_id"] == scope.principal.user_id
                    and existing["deleted_at"] is None and same_content(existing, values)):
                return existing, False
            raise Conflict(f"id {data.id} is already taken", code="id_taken", field="id")
    await check_links(scope, values)
    values.update(rep_id=scope.principal.user_id, received_at=now)
    return await insert_record(Activity, scope.org_id, values, record_id=data.id), True


async def get_activity(scope: Scope, activity_id: uuid.UUID) -> dict:
    return await get_visible(Activity, scope.activities(), activity_id, "activity")


def _check_author(scope: Scope, row: dict) -> None:
    """Only the rep who logged it, their managers or an admin change an activity.

    Reps see colleagues' activities on shared accounts (the timeline) but may
    not edit them: that is a 403, not a 404.
    """
    if not scope.may_assign_to(row["rep_id"]):
        raise Forbidden("only the rep who logged an activity or their managers may change it",
                        code="not_author")


async def update_activity(scope: Scope, activity_id: uuid.UUID, patch: ActivityPatch,
                          expected_version: int | None = None) -> dict:
    row = await get_activity(scope, activity_id)
    _check_author(scope, row)
    fields = patch_fields(patch)
    for name in fields:
        if name not in AMENDABLE:
            raise Invalid(f"{name} is fixed once an activity is recorded", field=name,
                          code="immutable_field")
    if "ended_at" in fields:
        fields["ended_at"] = utc(fields["ended_at"])
        _check_end(row["occurred_at"], fields["ended_at"])
    if "outcome" in fields:
        _check_outcome(row["type"], fields["outcome"])
    return await update_record(Activity, row, fields, expected_version)


async def delete_activity(scope: Scope, activity_id: uuid.UUID) -> None:
    row = await get_activity(scope, activity_id)
    _check_author(scope, row)
    await tombstone(Activity, row)


async def list_activities(scope: Scope, f: ActivityFilter, *, sort: str = "-occurred_at",
                          limit: int | None = None, cursor: str | None = None):
    cond = scope.activities()
    for name in ("rep_id", "account_id", "contact_id", "lead_id", "opportunity_id", "status"):
        value = getattr(f, name)
        if value is not None:
            cond = cond & (Activity._meta.get_column_by_name(name) == value)
    if f.types:
        cond = cond & Activity.type.is_in(sorted(set(f.types)))
    if f.occurred_after is not None:
        cond = cond & (Activity.occurred_at >= utc(f.occurred_after))
    if f.occurred_before is not None:
        cond = cond & (Activity.occurred_at < utc(f.occurred_before))
    if f.updated_since is not None:
        cond = cond & (Activity.updated_at >= utc(f.updated_since))
    return await list_page(Activity, cond, sorts=SORTS, sort=sort, limit=limit, cursor=cursor)
