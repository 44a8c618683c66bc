"""Builders for pipeline tests: a sales org with a team, territories, and records made
through the services (so they carry versions and cells like real ones)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from server.access.principal import Principal
from server.access.scope import Scope
from server.accounts.contact_schemas import ContactIn
from server.accounts.contacts import create_contact
from server.accounts.schemas import AccountIn
from server.accounts.service import create_account
from server.db.ids import new_id
from server.db.tx import unit_of_work
from server.geo.cells import cell_to_parent, latlng_to_cell
from server.geo.tables import Territory, TerritoryOwner
from server.pipeline.leads import create_lead
from server.pipeline.opportunities import create_opportunity
from server.pipeline.schemas import LeadIn, OpportunityIn
from tests.builders import Person, make_org, make_user

#: Two spots in different resolution-7 cells: Brooklyn and the Bronx.
BROOKLYN = (40.6782, -73.9442)
BRONX = (40.8448, -73.8648)


@dataclass
class SalesOrg:
    """An admin, a manager with two reps, and a rep outside the manager's team."""

    org_id: uuid.UUID
    admin: Person
    manager: Person
    rep: Person
    mate: Person
    loner: Person


async def make_sales_org() -> SalesOrg:
    org = await make_org()
    admin = await make_user(org, "admin")
    manager = await make_user(org, "manager")
    rep = await make_user(org, "rep", manager=manager)
    mate = await make_user(org, "rep", manager=manager)
    loner = await make_user(org, "rep")
    return SalesOrg(org, admin, manager, rep, mate, loner)


async def scope_of(person: Person) -> Scope:
    return await Scope.build(Principal(person.id, person.org_id, person.role, uuid.uuid4()))


async def make_territory(owner: Person, at: tuple[float, float] = BROOKLYN) -> uuid.UUID:
    """A primary territory of one resolution-7 cell around ``at``, owned by ``owner``."""
    territory_id = new_id()
    cell = cell_to_parent(latlng_to_cell(*at), 7)
    async with unit_of_work():
        await Territory.insert(Territory(id=territory_id, org_id=owner.org_id, name="Patch",
                                         cells=[cell], resolution=7))
        await TerritoryOwner.insert(TerritoryOwner(id=new_id(), org_id=owner.org_id,
                                                   territory_id=territory_id, user_id=owner.id))
    return territory_id


async def make_account(by: Person, **fields) -> dict:
    fields.setdefault("name", f"Account {uuid.uuid4().hex[:6]}")
    async with unit_of_work():
        return await create_account(await scope_of(by), AccountIn(**fields))


async def make_contact(by: Person, **fields) -> dict:
    fields.setdefault("last_name", f"Contact {uuid.uuid4().hex[:6]}")
    async with unit_of_work():
        return await create_contact(await scope_of(by), ContactIn(**fields))


async def make_lead(by: Person, **fields) -> dict:
    fields.setdefault("company", f"Lead Co {uuid.uuid4().hex[:6]}")
    async with unit_of_work():
        return await create_lead(await scope_of(by), LeadIn(**fields))


async def make_opportunity(by: Person, account_id: uuid.UUID | None = None, **fields) -> dict:
    if account_id is None:
        account_id = (await make_account(by))["id"]
    fields.setdefault("name", f"Deal {uuid.uuid4().hex[:6]}")
    fields.setdefault("amount", Decimal("1000.00"))
    async with unit_of_work():
        return await create_opportunity(await scope_of(by), OpportunityIn(account_id=account_id, **fields))


async def all_pages(client, url: str, headers: dict, params: list[tuple[str, str]] | None = None,
                    limit: int = 2) -> list[dict]:
    """Every item of a listing, following ``next_cursor`` page by page."""
    items, cursor = [], None
    while True:
        query = [*(params or []), ("limit", str(limit))] + ([("cursor", cursor)] if cursor else [])
        r = await client.get(url, params=query, headers=headers)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items
