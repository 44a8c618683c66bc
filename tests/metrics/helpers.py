"""Builders for metrics tests: records stamped at chosen local times, and reading the daily rows."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from server.common.records import insert_record, update_record
from server.comms.tables import Activity
from server.db import direct
from server.db.tx import unit_of_work
from server.metrics.definitions import MEASURES
from server.pipeline.tables import Lead, Opportunity
from server.work.tables import Appointment
from tests.activity_builders import make_account
from tests.builders import Person

NY = ZoneInfo("America/New_York")


def local(day: date, hh: int, mm: int = 0, tz: ZoneInfo = NY) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=tz)


async def set_timezone(org_id: uuid.UUID, name: str) -> None:
    async with unit_of_work():
        await direct.execute("UPDATE organisations SET timezone = ? WHERE id = ?", [name, org_id])


async def activity(rep: Person, kind: str, at: datetime, **fields) -> dict:
    values = {"rep_id": rep.id, "type": kind, "direction": "out", "occurred_at": at, "received_at": at,
              **fields}
    async with unit_of_work():
        return await insert_record(Activity, rep.org_id, values)


async def visit(rep: Person, at: datetime, minutes: int | None = None, **fields) -> dict:
    ended = at + timedelta(minutes=minutes) if minutes is not None else None
    return await activity(rep, "visit", at, ended_at=ended, **fields)


async def delete(table, row: dict, at: datetime) -> dict:
    async with unit_of_work():
        return await update_record(table, row, {"deleted_at": at})


async def restamp(table, row: dict, **changes) -> dict:
    """Change server-stamped times (created_at) as if the record had been made then."""
    async with unit_of_work():
        return await update_record(table, row, changes)


async def lead(rep: Person, created: datetime, converted: datetime | None = None) -> dict:
    async with unit_of_work():
        row = await insert_record(Lead, rep.org_id, {"owner_id": rep.id, "last_name": "Lead"})
    changes = {"created_at": created}
    if converted is not None:
        changes |= {"converted_at": converted, "status": "converted"}
    return await restamp(Lead, row, **changes)


async def opportunity(rep: Person, created: datetime, stage: str = "prospecting",
                      closed: datetime | None = None, amount: str = "0", account_id=None) -> dict:
    account_id = account_id or await make_account(rep)
    async with unit_of_work():
        row = await insert_record(Opportunity, rep.org_id, {"owner_id": rep.id, "account_id": account_id,
                                                            "name": "Deal", "stage": stage,
                                                            "amount": Decimal(amount)})
    changes = {"created_at": created}
    if closed is not None:
        changes["closed_at"] = closed
    return await restamp(Opportunity, row, **changes)


async def appointment(rep: Person, created: datetime) -> dict:
    starts = created + timedelta(days=2)
    async with unit_of_work():
        row = await insert_record(Appointment, rep.org_id, {
            "assignee_id": rep.id, "created_by_id": rep.id, "title": "Demo", "starts_at": starts,
            "ends_at": starts + timedelta(hours=1)})
    return await restamp(Appointment, row, created_at=created)


async def cells(org_id: uuid.UUID) -> dict[tuple[uuid.UUID, date], dict[str, int]]:
    """Every stored rep-day of the org, measures by name (zeros left out for readable failures)."""
    cols = ", ".join(MEASURES)
    async with unit_of_work():
        rows = await direct.fetch(
            f"SELECT CAST(rep_id AS TEXT), day, {cols} FROM rep_day_metrics WHERE org_id = ?", [org_id])
    out = {}
    for rep, day, *values in rows:
        d = day if isinstance(day, date) else date.fromisoformat(str(day))
        out[(uuid.UUID(rep), d)] = {m: int(v) for m, v in zip(MEASURES, values, strict=True) if v}
    return out


async def watermarks(org_id: uuid.UUID) -> dict[str, int]:
    async with unit_of_work():
        rows = await direct.fetch("SELECT source, last_version FROM metric_watermarks WHERE org_id = ?",
                                  [org_id])
    return {s: int(v) for s, v in rows}
