"""The account listing reads plain values, the scope and auth checks short reads: same answers as Piccolo's path."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from piccolo.querystring import QueryString

from server.access.principal import Principal
from server.access.scope import Scope
from server.accounts import service
from server.accounts.schemas import AccountIn, account_out
from server.accounts.tables import Account
from server.common.records import list_page
from server.db import engine as db_engine
from server.db.engine import current_engine, read_values
from server.db.tx import unit_of_work
from tests.builders import make_org, make_user

NAMES = ["Acme Widgets", "North Star Diner", "Northside Dental", "Zeta Tools", "acme north", "Émile Café",
         "Beta", "Gamma Gears", "Delta Dental", "Omega"]


def principal(person) -> Principal:
    return Principal(user_id=person.id, org_id=person.org_id, role=person.role, session_id=uuid.uuid4())


async def seed():
    org = await make_org()
    admin = await make_user(org, "admin")
    manager = await make_user(org, "manager")
    rep = await make_user(org, "rep", manager=manager)
    other = await make_user(org, "rep")
    owners = [rep.id, other.id, manager.id, None]
    for i, name in enumerate(NAMES * 2):
        data = AccountIn(name=name, owner_id=owners[i % 4], status=("customer", "prospect", "inactive")[i % 3],
                         potential=(None, Decimal("125000.50"), Decimal(7), Decimal("0.1"))[i % 4],
                         lat=None if i % 5 == 0 else 41.8 + i / 100, lng=None if i % 5 == 0 else -87.6,
                         visit_every_days=None if i % 2 else 14)
        async with unit_of_work():
            await service.create_account(await Scope.build(principal(admin)), data)
    return admin, manager, rep


FILTERS = [
    service.AccountFilter(),
    service.AccountFilter(status="customer"),
    service.AccountFilter(q="north"),
    service.AccountFilter(q="acme wid"),
    service.AccountFilter(unowned=True),
    service.AccountFilter(updated_since=datetime(2000, 1, 1, tzinfo=UTC)),
]


async def test_pages_match_the_piccolo_listing(db):
    admin, manager, rep = await seed()
    for person in (admin, manager, rep):
        scope = await Scope.build(principal(person))
        for f in [*FILTERS, service.AccountFilter(owner_id=rep.id, status="customer")]:
            for sort in service.SORTS:
                pages = 0
                mine = theirs = None
                while pages == 0 or mine:
                    got, mine = await service.list_accounts(scope, f, sort=sort, limit=3, cursor=mine)
                    rows, theirs = await list_page(Account, service.filter_condition(scope, f),
                                                   sorts=service.SORTS, sort=sort, limit=3, cursor=theirs)
                    assert got == [account_out(r) for r in rows], (person.role, f, sort, pages)
                    assert mine == theirs
                    pages += 1


async def test_read_values_gives_the_rows_piccolo_gives(db):
    admin, _, _ = await seed()
    sql = "SELECT id, name, owner_id, potential FROM accounts WHERE org_id = {} ORDER BY name, id"
    query = QueryString(sql, admin.org_id)
    expected = [tuple(r.values()) for r in await Account.raw(sql, admin.org_id)]

    def same(rows):  # stored text on SQLite outside a transaction, Python objects elsewhere
        return [tuple(None if v is None else str(v) if not isinstance(v, (int, float, Decimal)) else Decimal(str(v))
                      for v in row) for row in rows]

    assert len(expected) == 2 * len(NAMES)
    assert same(await read_values(query)) == same(expected)
    assert same(await read_values(query, short=True)) == same(expected)
    async with unit_of_work():
        assert same(await read_values(query, short=True)) == same(expected)


async def test_a_busy_short_read_waits_on_a_pooled_connection(db, monkeypatch):
    if not db.is_sqlite:
        pytest.skip("SQLite only")
    admin, _, _ = await seed()
    monkeypatch.setattr(type(current_engine()), "read_here", lambda self, sql, args: None)
    rows = await db_engine.read_values(QueryString("SELECT count(*) FROM accounts WHERE org_id = {}", admin.org_id),
                                       short=True)
    assert rows == [(2 * len(NAMES),)]
