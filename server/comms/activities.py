"""The activity log: visits, calls, texts, emails, meetings and notes reps record.

Phones create activities insert-if-absent under their own UUIDs, so a request
retried after a lost response stores nothing twice. The columns the phone sets
are fixed at insert; an amendment changes only ``AMENDABLE`` columns.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

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
from server.comms import outbox
from server.comms.amendments import record_amendment
from server.comms.checkins import CLOCK_CLAMP, as_device_clock, device_time
from server.comms.schemas import AMENDABLE, ActivityIn, ActivityPatch
from server.comms.tables import Activity
from server.comms.verification import verify_visits
from server.db.engine import is_sqlite
from server.geo.cells import valid_latlng
from server.jobs.scheduler import nudge_after_commit
from server.pipeline.tables import Lead, Opportunity
from server.users.service import normalize_email

SORTS = {"-occurred_at": "occurred_at", "-updated_at": "updated_at"}
#: Device clocks drift: up to 10 min ahead is kept, up to 24 h ahead is clamped to the receive time
#: (offset recorded in ``clock_offset_s``), beyond that refused (``server.comms.checkins.device_time``).
MAX_FUTURE = CLOCK_CLAMP
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
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


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


def _check_position(lat: float | None, lng: float | None) -> None:
    """Both or neither, finite and on the globe (the wire type leaves the range to us for a clear code)."""
    check_point(lat, lng)
    if lat is None or lng is None:
        return
    if not (math.isfinite(lat) and math.isfinite(lng) and valid_latlng(lat, lng)):
        raise Invalid(f"no such place: lat={lat}, lng={lng} (lat -90..90, lng -180..180)",
                      field="lat" if not (math.isfinite(lat) and -90 <= lat <= 90) else "lng",
                      code="invalid_location")


def _dwell_s(kind: str, occurred_at: datetime, ended_at: datetime | None) -> int | None:
    """A visit's time on site, from check-in to check-out (None without a check-out)."""
    if kind != "visit" or ended_at is None:
        return None
    return int((ended_at - occurred_at).total_seconds())


def activity_values(data: ActivityIn, now: datetime) -> dict:
    """Validated, normalised client-owned columns of a new activity (server-owned ones still null).

    A device clock up to 24 h ahead is taken for a wrong clock, not a wrong
    activity: the times become the receive time (the check-out keeps its
    distance to the check-in) and ``clock_offset_s`` records how far ahead it was.
    """
    reported = utc(data.occurred_at)
    assert reported is not None
    stored = device_time(reported, now)
    if stored is None:
        offset = (reported - now).total_seconds()
        raise Invalid(f"occurred_at is {offset / 3600:.1f} h ahead of the server; check the device clock",
                      field="occurred_at", code="occurred_at_in_future", extra={"clock_offset_s": offset})
    occurred_at, offset_s = stored
    if occurred_at < now - MAX_AGE:
        raise Invalid("occurred_at is more than a year ago", field="occurred_at",
                      code="occurred_too_long_ago")
    ended_at = utc(data.ended_at)
    _check_end(reported, ended_at)
    if ended_at is not None and offset_s is not None:
        ended_at -= timedelta(seconds=offset_s)
    _check_outcome(data.type, data.outcome)
    _check_position(data.lat, data.lng)
    if data.status is not None and data.type not in MESSAGE_TYPES:
        raise Invalid("only texts and emails have a status", field="status")
    values = {f: getattr(data, f) for f in CONTENT}
    duration_s = data.duration_s if data.duration_s is not None else _dwell_s(data.type, occurred_at, ended_at)
    values.update(occurred_at=occurred_at, ended_at=ended_at, duration_s=duration_s,
                  counterpart=_counterpart(data.type, data.counterpart), clock_offset_s=offset_s,
                  verification=None, distance_m=None)
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
    """The same activity sent again: compared on the device's own times (a clamped time moves on retry)."""
    return (all(row[f] == values[f] for f in CONTENT if f not in ("occurred_at", "ended_at"))
            and _device_times(row) == _device_times(values))


def _device_times(values: dict) -> tuple[datetime | None, datetime | None]:
    offset = values.get("clock_offset_s")
    ended = values["ended_at"]
    return (as_device_clock(values["occurred_at"], offset),
            None if ended is None else as_device_clock(ended, offset))


# -- use cases -----------------------------------------------------------------------
async def create_activity(scope: Scope, data: ActivityIn,
                          server_values: dict | None = None) -> tuple[dict, bool]:
    """Insert-if-absent. Returns ``(row, created)``; ``created`` is False for a replay.

    The same id from the same rep with the same content is a retry and returns
    the stored row; anything else under a taken id is ``Conflict`` (``id_taken``),
    whoever holds it, so an id never reveals another org's or rep's activity.
    ``server_values`` sets server-owned columns at insert (a click-to-call's status).
    """
    now = utcnow()
    values = activity_values(data, now) | (server_values or {})
    if data.id is not None:
        await lock_id(data.id)
        existing = await Activity.select().where(Activity.id == data.id).first()
        if existing is not None:
            if (existing["org_id"] == scope.org_id and existing["rep_id"] == scope.principal.user_id
                    and existing["deleted_at"] is None and same_content(existing, values)):
                return existing, False
            raise Conflict(f"id {data.id} is already taken", code="id_taken", field="id")
    await check_links(scope, values)
    await verify_visits(scope.org_id, [values])
    values.update(rep_id=scope.principal.user_id, received_at=now)
    row = await insert_record(Activity, scope.org_id, values, record_id=data.id)
    await outbox.enqueue(scope.org_id, [row])
    nudge_after_commit()
    return row, True


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
        ended_at = utc(fields["ended_at"])
        if ended_at is not None and row.get("clock_offset_s") is not None:
            ended_at -= timedelta(seconds=row["clock_offset_s"])  # the same wrong clock as the check-in
        _check_end(row["occurred_at"], ended_at)
        fields["ended_at"] = ended_at
        if "duration_s" not in fields and row["type"] == "visit":
            fields["duration_s"] = _dwell_s(row["type"], row["occurred_at"], ended_at)
    if "outcome" in fields:
        _check_outcome(row["type"], fields["outcome"])
    if "status" in fields and fields["status"] != row["status"] and not (
            row["status"] == "draft" and fields["status"] == "queued"):
        raise Invalid(f"a message's status moves only from draft to queued (it is {row['status']})",
                      field="status", code="invalid_status_change")
    after = await update_record(Activity, row, fields, expected_version)
    if row["status"] == "draft" and after["status"] == "queued":
        await outbox.enqueue(row["org_id"], [after])
    if after["version"] != row["version"]:
        await record_amendment(row["org_id"], row["id"], scope.principal.user_id,
                               {f: row[f] for f in AMENDABLE}, {f: after[f] for f in (*AMENDABLE, "version")})
    return after


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
