"""Wire types of tasks (to-dos with a due time) and appointments (calendar slots)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from server.common.schemas import Lat, Lng, Name, Page

TaskStatus = Literal["open", "done", "cancelled"]
AppointmentStatus = Literal["scheduled", "done", "cancelled", "no_show"]
Time = Annotated[datetime, msgspec.Meta(tz=True)]
Notes = Annotated[str, msgspec.Meta(max_length=20_000)]
Place = Annotated[str, msgspec.Meta(max_length=300)]


class Links(msgspec.Struct, kw_only=True):
    """The customer records a task or appointment concerns (each must be visible to the caller)."""

    account_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    lead_id: uuid.UUID | None = None
    opportunity_id: uuid.UUID | None = None


class LinksPatch(msgspec.Struct, kw_only=True):
    account_id: uuid.UUID | None | UnsetType = UNSET
    contact_id: uuid.UUID | None | UnsetType = UNSET
    lead_id: uuid.UUID | None | UnsetType = UNSET
    opportunity_id: uuid.UUID | None | UnsetType = UNSET


class TaskIn(Links, forbid_unknown_fields=True, kw_only=True):
    id: uuid.UUID | None = None
    title: Name
    notes: Notes | None = None
    due_at: Time | None = None
    status: TaskStatus = "open"
    #: Defaults to the caller.
    assignee_id: uuid.UUID | None = None


class TaskPatch(LinksPatch, forbid_unknown_fields=True, kw_only=True):
    """Only the fields present change; ``null`` clears a field."""

    title: Name | UnsetType = UNSET
    notes: Notes | None | UnsetType = UNSET
    due_at: Time | None | UnsetType = UNSET
    status: TaskStatus | UnsetType = UNSET
    assignee_id: uuid.UUID | UnsetType = UNSET


class TaskOut(msgspec.Struct):
    id: uuid.UUID
    title: str
    notes: str | None
    due_at: datetime | None
    status: str
    completed_at: datetime | None
    assignee_id: uuid.UUID
    created_by_id: uuid.UUID | None
    account_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    lead_id: uuid.UUID | None
    opportunity_id: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime


class AppointmentIn(Links, forbid_unknown_fields=True, kw_only=True):
    id: uuid.UUID | None = None
    title: Name
    starts_at: Time
    #: Strictly after ``starts_at``.
    ends_at: Time
    location: Place | None = None
    lat: Lat | None = None
    lng: Lng | None = None
    status: AppointmentStatus = "scheduled"
    assignee_id: uuid.UUID | None = None


class AppointmentPatch(LinksPatch, forbid_unknown_fields=True, kw_only=True):
    title: Name | UnsetType = UNSET
    starts_at: Time | UnsetType = UNSET
    ends_at: Time | UnsetType = UNSET
    location: Place | None | UnsetType = UNSET
    lat: Lat | None | UnsetType = UNSET
    lng: Lng | None | UnsetType = UNSET
    status: AppointmentStatus | UnsetType = UNSET
    assignee_id: uuid.UUID | UnsetType = UNSET


class AppointmentOut(msgspec.Struct):
    id: uuid.UUID
    title: str
    starts_at: datetime
    ends_at: datetime
    location: str | None
    lat: float | None
    lng: float | None
    status: str
    assignee_id: uuid.UUID
    created_by_id: uuid.UUID | None
    account_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    lead_id: uuid.UUID | None
    opportunity_id: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime


def task_out(row: dict) -> TaskOut:
    return TaskOut(**{f: row[f] for f in TaskOut.__struct_fields__})


def appointment_out(row: dict) -> AppointmentOut:
    return AppointmentOut(**{f: row[f] for f in AppointmentOut.__struct_fields__})


class TaskPage(Page[TaskOut]):
    """One keyset page; a named type so the phone's generated code gets a stable name."""


class AppointmentPage(Page[AppointmentOut]):
    """One keyset page; a named type so the phone's generated code gets a stable name."""
