"""Tasks and appointments: the work assigned to a rep.

Both belong to an assignee (the caller unless said otherwise). Who may assign
to whom follows record ownership: reps themselves, managers their team,
admins anyone (``check_owner``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from piccolo.table import Table

from server.access.scope import Scope
from server.common.errors import Invalid
from server.common.location import check_point
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
from server.comms.activities import check_links, utc
from server.work.schemas import AppointmentIn, AppointmentPatch, TaskIn, TaskPatch
from server.work.tables import Appointment, Task

TASK_SORTS = {"-created_at": "created_at", "-updated_at": "updated_at"}
APPOINTMENT_SORTS = {"starts_at": "starts_at", "-updated_at": "updated_at"}


class WorkFilter(msgspec.Struct, kw_only=True):
    assignee_id: uuid.UUID | None = None
    status: str | None = None
    account_id: uuid.UUID | None = None
    updated_since: datetime | None = None
    #: Tasks: due window; appointments: start window. ``after`` inclusive, ``before`` exclusive.
    after: datetime | None = None
    before: datetime | None = None


async def _new(table: type[Table], scope: Scope, fields: dict) -> dict:
    record_id = fields.pop("id", None)
    if fields.get("assignee_id") is None:
        fields["assignee_id"] = scope.principal.user_id
    await check_owner(scope, fields["assignee_id"], field="assignee_id")
    await check_links(scope, fields)
    fields["created_by_id"] = scope.principal.user_id
    return await insert_record(table, scope.org_id, fields, record_id=record_id)


async def _check_changes(scope: Scope, fields: dict) -> None:
    if "assignee_id" in fields:
        await check_owner(scope, fields["assignee_id"], field="assignee_id")
    await check_links(scope, {k: v for k, v in fields.items() if k.endswith("_id")})


async def _list(table: type[Table], condition, window_column, f: WorkFilter, *, sorts: dict,
                sort: str, limit: int | None, cursor: str | None):
    for name in ("assignee_id", "status", "account_id"):
        value = getattr(f, name)
        if value is not None:
            condition = condition & (table._meta.get_column_by_name(name) == value)
    if f.updated_since is not None:
        condition = condition & (table.updated_at >= utc(f.updated_since))  # type: ignore[attr-defined]
    if f.after is not None:
        condition = condition & (window_column >= utc(f.after))
    if f.before is not None:
        condition = condition & (window_column < utc(f.before))
    return await list_page(table, condition, sorts=sorts, sort=sort, limit=limit, cursor=cursor)


# -- tasks -----------------------------------------------------------------------
def _completion(status: str, row: dict | None) -> dict:
    """``completed_at`` follows the status: set when a task becomes done, cleared if reopened."""
    if status != "done":
        return {"completed_at": None}
    if row is not None and row["status"] == "done":
        return {}
    return {"completed_at": utcnow()}


async def create_task(scope: Scope, data: TaskIn) -> dict:
    fields = msgspec.structs.asdict(data)
    fields["due_at"] = utc(data.due_at)
    fields.update(_completion(data.status, None))
    return await _new(Task, scope, fields)


async def get_task(scope: Scope, task_id: uuid.UUID) -> dict:
    return await get_visible(Task, scope.tasks(), task_id, "task")


async def update_task(scope: Scope, task_id: uuid.UUID, patch: TaskPatch,
                      expected_version: int | None = None) -> dict:
    row = await get_task(scope, task_id)
    fields = patch_fields(patch)
    await _check_changes(scope, fields)
    if "due_at" in fields:
        fields["due_at"] = utc(fields["due_at"])
    if "status" in fields:
        fields.update(_completion(fields["status"], row))
    return await update_record(Task, row, fields, expected_version)


async def delete_task(scope: Scope, task_id: uuid.UUID) -> None:
    await tombstone(Task, await get_task(scope, task_id))


async def list_tasks(scope: Scope, f: WorkFilter, *, sort: str = "-created_at",
                     limit: int | None = None, cursor: str | None = None):
    return await _list(Task, scope.tasks(), Task.due_at, f, sorts=TASK_SORTS, sort=sort,
                       limit=limit, cursor=cursor)


# -- appointments ------------------------------------------------------------------
def _check_slot(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise Invalid("ends_at must be after starts_at", field="ends_at", code="invalid_time_range")


def _check_location(lat: float | None, lng: float | None) -> None:
    check_point(lat, lng)


async def create_appointment(scope: Scope, data: AppointmentIn) -> dict:
    fields = msgspec.structs.asdict(data)
    fields.update(starts_at=utc(data.starts_at), ends_at=utc(data.ends_at))
    _check_slot(fields["starts_at"], fields["ends_at"])
    _check_location(data.lat, data.lng)
    return await _new(Appointment, scope, fields)


async def get_appointment(scope: Scope, appointment_id: uuid.UUID) -> dict:
    return await get_visible(Appointment, scope.appointments(), appointment_id, "appointment")


async def update_appointment(scope: Scope, appointment_id: uuid.UUID, patch: AppointmentPatch,
                             expected_version: int | None = None) -> dict:
    row = await get_appointment(scope, appointment_id)
    fields = patch_fields(patch)
    for name in ("starts_at", "ends_at"):
        if name in fields:
            fields[name] = utc(fields[name])
    merged = {**row, **fields}
    _check_slot(merged["starts_at"], merged["ends_at"])
    _check_location(merged["lat"], merged["lng"])
    await _check_changes(scope, fields)
    return await update_record(Appointment, row, fields, expected_version)


async def delete_appointment(scope: Scope, appointment_id: uuid.UUID) -> None:
    await tombstone(Appointment, await get_appointment(scope, appointment_id))


async def list_appointments(scope: Scope, f: WorkFilter, *, sort: str = "starts_at",
                            limit: int | None = None, cursor: str | None = None):
    return await _list(Appointment, scope.appointments(), Appointment.starts_at, f,
                       sorts=APPOINTMENT_SORTS, sort=sort, limit=limit, cursor=cursor)
