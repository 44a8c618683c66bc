"""Tasks and appointments: who they belong to, completion, time slots, scope."""

from datetime import timedelta

import pytest

from server.common.errors import Forbidden, Invalid, NotFound
from server.common.time import utcnow
from server.db.tx import unit_of_work
from server.work import service
from server.work.schemas import AppointmentIn, AppointmentPatch, TaskIn, TaskPatch
from tests.activity_builders import make_account, make_appointment, make_task, scope_of
from tests.builders import make_org, make_user


async def test_task_belongs_to_its_creator_unless_assigned(db):
    org = await make_org()
    manager = await make_user(org, "manager")
    rep = await make_user(org, manager=manager)
    other = await make_user(org)
    async with unit_of_work():
        own = await service.create_task(await scope_of(rep), TaskIn(title="Send brochure"))
        handed = await service.create_task(await scope_of(manager), TaskIn(title="Visit", assignee_id=rep.id))
    assert (own["assignee_id"], own["created_by_id"]) == (rep.id, rep.id)
    assert (handed["assignee_id"], handed["created_by_id"]) == (rep.id, manager.id)
    with pytest.raises(Forbidden) as rep_assigns:
        async with unit_of_work():
            await service.create_task(await scope_of(rep), TaskIn(title="You do it", assignee_id=other.id))
    assert rep_assigns.value.code == "owner_not_allowed"
    with pytest.raises(Forbidden):  # outside the manager's team
        async with unit_of_work():
            await service.update_task(await scope_of(manager), handed["id"], TaskPatch(assignee_id=other.id))
    with pytest.raises(Invalid) as link:
        async with unit_of_work():
            await service.create_task(await scope_of(rep), TaskIn(title="x", account_id=await make_account(other)))
    assert link.value.code == "unknown_account"


async def test_done_stamps_completed_at_and_reopening_clears_it(db):
    org = await make_org()
    rep = await make_user(org)
    scope = await scope_of(rep)
    task = await make_task(rep)
    async with unit_of_work():
        done = await service.update_task(scope, task["id"], TaskPatch(status="done"))
    assert done["completed_at"] is not None
    async with unit_of_work():
        renamed = await service.update_task(scope, task["id"], TaskPatch(title="Called back", status="done"))
    assert renamed["completed_at"] == done["completed_at"]
    async with unit_of_work():
        reopened = await service.update_task(scope, task["id"], TaskPatch(status="open"))
    assert reopened["completed_at"] is None


async def test_appointments_end_after_they_start(db):
    org = await make_org()
    rep = await make_user(org)
    scope = await scope_of(rep)
    start = utcnow() + timedelta(days=2)
    with pytest.raises(Invalid) as exc:
        async with unit_of_work():
            await service.create_appointment(scope, AppointmentIn(title="Demo", starts_at=start, ends_at=start))
    assert exc.value.field == "ends_at"
    appointment = await make_appointment(rep)
    with pytest.raises(Invalid):
        async with unit_of_work():
            await service.update_appointment(scope, appointment["id"], AppointmentPatch(
                starts_at=appointment["ends_at"] + timedelta(minutes=1)))
    async with unit_of_work():
        moved = await service.update_appointment(scope, appointment["id"], AppointmentPatch(
            starts_at=start, ends_at=start + timedelta(minutes=45), lat=41.9, lng=-87.6))
    assert moved["ends_at"] - moved["starts_at"] == timedelta(minutes=45)


async def test_work_is_seen_by_assignee_team_and_admin_only(db):
    org = await make_org()
    admin = await make_user(org, "admin")
    manager = await make_user(org, "manager")
    rep = await make_user(org, manager=manager)
    other = await make_user(org)
    task, appointment = await make_task(rep), await make_appointment(rep)
    for person in (rep, manager, admin):
        scope = await scope_of(person)
        assert (await service.get_task(scope, task["id"]))["id"] == task["id"]
        assert (await service.get_appointment(scope, appointment["id"]))["id"] == appointment["id"]
    with pytest.raises(NotFound):
        await service.get_task(await scope_of(other), task["id"])
    with pytest.raises(NotFound):
        await service.get_appointment(await scope_of(other), appointment["id"])
    rows, _ = await service.list_tasks(await scope_of(other), service.WorkFilter())
    assert rows == []


async def test_lists_filter_by_window_and_page_once(db):
    org = await make_org()
    rep = await make_user(org)
    scope = await scope_of(rep)
    now = utcnow()
    tasks = [await make_task(rep, f"T{i}", due_at=now + timedelta(days=i), status="done" if i == 0 else "open")
             for i in range(5)]
    soon, _ = await service.list_tasks(scope, service.WorkFilter(after=now + timedelta(hours=1),
                                                                 before=now + timedelta(days=2, hours=1)))
    assert {r["title"] for r in soon} == {"T1", "T2"}
    open_, _ = await service.list_tasks(scope, service.WorkFilter(status="open"))
    assert len(open_) == 4
    seen, cursor = [], None
    while True:
        rows, cursor = await service.list_tasks(scope, service.WorkFilter(), limit=2, cursor=cursor)
        seen += [r["id"] for r in rows]
        if not cursor:
            break
    assert sorted(seen) == sorted(t["id"] for t in tasks)
    for i in range(3):
        await make_appointment(rep, f"A{i}", starts_at=now + timedelta(days=3 - i),
                               ends_at=now + timedelta(days=3 - i, hours=1))
    rows, _ = await service.list_appointments(scope, service.WorkFilter())
    assert [r["title"] for r in rows] == ["A2", "A1", "A0"]
