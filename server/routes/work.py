from __future__ import annotations

import uuid
from datetime import datetime

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from server.access.scope import Scope
from server.db.tx import unit_of_work
from server.routes.common import IfMatch, etag, if_match_version
from server.work import service
from server.work.schemas import (
    AppointmentIn,
    AppointmentOut,
    AppointmentPage,
    AppointmentPatch,
    AppointmentStatus,
    TaskIn,
    TaskOut,
    TaskPage,
    TaskPatch,
    TaskStatus,
    appointment_out,
    task_out,
)


class TaskController(Controller):
    path = "/api/v1/tasks"
    tags = ["tasks"]

    @get("/", operation_id="tasks_list")
    async def list_tasks(
        self,
        access: NamedDependency[Scope],
        assignee_id: FromQuery[uuid.UUID | None] = None,
        status: FromQuery[TaskStatus | None] = None,
        account_id: FromQuery[uuid.UUID | None] = None,
        due_after: FromQuery[datetime | None] = None,
        due_before: FromQuery[datetime | None] = None,
        updated_since: FromQuery[datetime | None] = None,
        sort: FromQuery[str] = "-created_at",
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> TaskPage:
        """Tasks in the caller's scope (`sort`: `-created_at`, `-updated_at`)."""
        f = service.WorkFilter(assignee_id=assignee_id, status=status, account_id=account_id,
                               updated_since=updated_since, after=due_after, before=due_before)
        rows, nxt = await service.list_tasks(access, f, sort=sort, limit=limit, cursor=cursor)
        return TaskPage(items=[task_out(r) for r in rows], next_cursor=nxt)

    @post("/", operation_id="tasks_create")
    async def create_task(self, data: JSONBody[TaskIn], access: NamedDependency[Scope]) -> Response[TaskOut]:
        async with unit_of_work():
            row = await service.create_task(access, data)
        return Response(task_out(row), status_code=201, headers=etag(row["version"]))

    @get("/{task_id:uuid}", operation_id="tasks_get")
    async def get_task(self, task_id: FromPath[uuid.UUID], access: NamedDependency[Scope]) -> Response[TaskOut]:
        row = await service.get_task(access, task_id)
        return Response(task_out(row), headers=etag(row["version"]))

    @patch("/{task_id:uuid}", operation_id="tasks_update")
    async def update_task(self, task_id: FromPath[uuid.UUID], data: JSONBody[TaskPatch],
                          access: NamedDependency[Scope], if_match: IfMatch = None) -> Response[TaskOut]:
        """Change some fields; `status: done` stamps `completed_at`."""
        async with unit_of_work():
            row = await service.update_task(access, task_id, data, if_match_version(if_match))
        return Response(task_out(row), headers=etag(row["version"]))

    @delete("/{task_id:uuid}", operation_id="tasks_delete", status_code=HTTP_204_NO_CONTENT)
    async def delete_task(self, task_id: FromPath[uuid.UUID], access: NamedDependency[Scope]) -> None:
        async with unit_of_work():
            await service.delete_task(access, task_id)


class AppointmentController(Controller):
    path = "/api/v1/appointments"
    tags = ["appointments"]

    @get("/", operation_id="appointments_list")
    async def list_appointments(
        self,
        access: NamedDependency[Scope],
        assignee_id: FromQuery[uuid.UUID | None] = None,
        status: FromQuery[AppointmentStatus | None] = None,
        account_id: FromQuery[uuid.UUID | None] = None,
        starts_after: FromQuery[datetime | None] = None,
        starts_before: FromQuery[datetime | None] = None,
        updated_since: FromQuery[datetime | None] = None,
        sort: FromQuery[str] = "starts_at",
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> AppointmentPage:
        """Appointments in the caller's scope (`sort`: `starts_at`, `-updated_at`)."""
        f = service.WorkFilter(assignee_id=assignee_id, status=status, account_id=account_id,
                               updated_since=updated_since, after=starts_after, before=starts_before)
        rows, nxt = await service.list_appointments(access, f, sort=sort, limit=limit, cursor=cursor)
        return AppointmentPage(items=[appointment_out(r) for r in rows], next_cursor=nxt)

    @post("/", operation_id="appointments_create")
    async def create_appointment(self, data: JSONBody[AppointmentIn],
                                 access: NamedDependency[Scope]) -> Response[AppointmentOut]:
        async with unit_of_work():
            row = await service.create_appointment(access, data)
        return Response(appointment_out(row), status_code=201, headers=etag(row["version"]))

    @get("/{appointment_id:uuid}", operation_id="appointments_get")
    async def get_appointment(self, appointment_id: FromPath[uuid.UUID],
                              access: NamedDependency[Scope]) -> Response[AppointmentOut]:
        row = await service.get_appointment(access, appointment_id)
        return Response(appointment_out(row), headers=etag(row["version"]))

    @patch("/{appointment_id:uuid}", operation_id="appointments_update")
    async def update_appointment(self, appointment_id: FromPath[uuid.UUID], data: JSONBody[AppointmentPatch],
                                 access: NamedDependency[Scope],
                                 if_match: IfMatch = None) -> Response[AppointmentOut]:
        async with unit_of_work():
            row = await service.update_appointment(access, appointment_id, data, if_match_version(if_match))
        return Response(appointment_out(row), headers=etag(row["version"]))

    @delete("/{appointment_id:uuid}", operation_id="appointments_delete", status_code=HTTP_204_NO_CONTENT)
    async def delete_appointment(self, appointment_id: FromPath[uuid.UUID],
                                 access: NamedDependency[Scope]) -> None:
        async with unit_of_work():
            await service.delete_appointment(access, appointment_id)
