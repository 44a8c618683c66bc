"""Plain async builders for activities, tasks, appointments and the records they point at.

They write rows directly (no scope checks) so a test can set up any situation,
such as another rep's activity on an account only the first rep can see.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from server.access.principal import Principal
from server.access.scope import Scope
from server.accounts.tables import Account
from server.comms.tables import Activity
from server.common.records import insert_record
from server.common.time import utcnow
from server.db.ids import new_id
from server.db.tx import unit_of_work
from server.geo.tables import Territory, TerritoryAccount, TerritoryOwner
from server.orgs.tables import Team, TeamMembership
from server.work.tables import Appointment, Task
from tests.builders import Person


async def scope_of(person: Person) -> Scope:
    """The scope a request by ``person`` would get."""
    return await Scope.build(Principal(user_id=person.id, org_id=person.org_id, role=person.role,
                                       session_id=uuid.uuid4()))


async def make_account(owner: Person, name: str = "Acme Widgets") -> uuid.UUID:
    async with unit_of_work():
        row = await insert_record(Account, owner.org_id, {"name": name, "owner_id": owner.id})
    return row["id"]


async def give_territory(rep: Person, *account_ids: uuid.UUID) -> uuid.UUID:
    """A territory owned by ``rep`` that covers ``account_ids``."""
    async with unit_of_work():
        territory = await insert_record(Territory, rep.org_id, {"name": f"T {uuid.uuid4().hex[:6]}"})
        await TerritoryOwner.insert(TerritoryOwner(id=new_id(), org_id=rep.org_id,
                                                   territory_id=territory["id"], user_id=rep.id))
        for account_id in account_ids:
            await TerritoryAccount.insert(TerritoryAccount(
                id=new_id(), org_id=rep.org_id, territory_id=territory["id"], account_id=account_id))
    return territory["id"]


async def make_activity(rep: Person, *, occurred_at: datetime | None = None, **fields) -> dict:
    values = {"rep_id": rep.id, "type": "note", "direction": "out",
              "occurred_at": occurred_at or utcnow() - timedelta(hours=1), "received_at": utcnow(),
              **fields}
    async with unit_of_work():
        return await insert_record(Activity, rep.org_id, values)


async def make_task(assignee: Person, title: str = "Call back", **fields) -> dict:
    async with unit_of_work():
        return await insert_record(Task, assignee.org_id, {"assignee_id": assignee.id, "title": title,
                                                           **fields})


async def make_appointment(assignee: Person, title: str = "Demo", **fields) -> dict:
    starts = utcnow() + timedelta(days=1)
    async with unit_of_work():
        return await insert_record(Appointment, assignee.org_id, {
            "assignee_id": assignee.id, "title": title, "starts_at": starts,
            "ends_at": starts + timedelta(hours=1), **fields})


async def make_team(manager: Person, *members: Person, name: str = "North") -> uuid.UUID:
    async with unit_of_work():
        team = await insert_record(Team, manager.org_id, {"name": name, "manager_id": manager.id})
        for member in members:
            await TeamMembership.insert(TeamMembership(id=new_id(), org_id=manager.org_id,
                                                       team_id=team["id"], user_id=member.id))
    return team["id"]
