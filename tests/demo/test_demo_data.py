"""Demo data: a realistic organisation, identical for a seed, loaded only once."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import phonenumbers
import pytest

from server.accounts.tables import Account, Contact
from server.comms.tables import Activity
from server.common.errors import Conflict
from server.common.phones import normalize_phone
from server.db.registry import ALL_TABLES
from server.demo import DemoConfig, generate, load_demo
from server.geo.cells import cell_to_parent
from server.geo.tables import Territory, TerritoryAccount, TerritoryOwner
from server.orgs.tables import Organisation, Team, TeamMembership
from server.pipeline.tables import Lead, Opportunity, StageChange
from server.users.tables import User
from server.work.tables import Appointment

TODAY = date(2026, 3, 2)
SMALL = {"reps": 10, "accounts": 600, "days": 60, "seed": 7, "today": TODAY}
TABLES = {t._meta.tablename: t for t in ALL_TABLES}


def _in_territory(cell9: str, cells: set[str]) -> bool:
    """Territory cells are stored compacted: the res-7 parent or a coarser ancestor is listed."""
    return any(cell_to_parent(cell9, res) in cells for res in range(0, 8))


def _cells(value) -> set[str]:
    return set(json.loads(value) if isinstance(value, str) else value)


async def test_small_demo_is_realistic(db):
    steps: dict[str, tuple[int, int]] = {}
    summary = await load_demo(**SMALL, progress=lambda s, d, t: steps.__setitem__(s, (d, t)))
    org = summary.org_id
    assert steps["activities"][0] == steps["activities"][1] > 0
    assert all(done == total for done, total in steps.values())

    # Counts reported are the rows in the database.
    for name, count in summary.counts.items():
        table = TABLES[name]
        where = table.id == org if name == "organisations" else table.org_id == org
        assert await table.count().where(where) == count, name
    assert summary.counts["activities"] == round(600 * 20 * 60 / 180)
    assert (await Organisation.objects().get(Organisation.id == org)).slug == summary.slug

    # Every synced row has a version from the clock.
    for name, table in TABLES.items():
        columns = {c._meta.db_column_name for c in table._meta.columns}
        if "version" in columns and name != "org_clocks":
            assert await table.count().where(table.org_id == org, table.version < 1) == 0, name

    users = {u["id"]: u for u in await User.select().where(User.org_id == org)}
    reps = {i for i, u in users.items() if u["role"] == "rep"}
    assert len(reps) == 10
    logins = {(email, role) for email, role, _ in summary.logins}
    assert logins == {(u["email"], u["role"]) for u in users.values()}
    for rep in reps:
        assert users[users[rep]["manager_id"]]["role"] == "manager"
        assert users[rep]["home_cell"] and users[rep]["timezone"]
    teams = await Team.select().where(Team.org_id == org)
    assert all(users[t["manager_id"]]["role"] == "manager" for t in teams)
    members = await TeamMembership.select().where(TeamMembership.org_id == org)
    assert sorted(m["user_id"] for m in members) == sorted(reps)
    now = datetime.now(ZoneInfo("UTC"))
    assert all(m["valid_to"] is None and m["valid_from"] < now for m in members)

    # Accounts sit in their owner's territory; territories never overlap.
    territory_of = {o["user_id"]: o["territory_id"]
                    for o in await TerritoryOwner.select().where(TerritoryOwner.org_id == org)}
    assert set(territory_of) == reps
    territories = {t["id"]: t for t in await Territory.select().where(Territory.org_id == org)}
    cells = {tid: _cells(t["cells"]) for tid, t in territories.items()}
    assert all(t["resolution"] == 7 for t in territories.values())
    seen: set[str] = set()
    for tid, own in cells.items():
        assert not own & seen
        seen |= own
    links = {a["account_id"]: a["territory_id"]
             for a in await TerritoryAccount.select().where(TerritoryAccount.org_id == org)}
    accounts = await Account.select().where(Account.org_id == org)
    assert len(accounts) == 600 and len(links) == 600
    for a in accounts:
        assert a["lat"] is not None and a["lng"] is not None and a["city"] and a["state"]
        assert a["postal_code"].isdigit() and len(a["postal_code"]) == 5
        assert a["owner_id"] in reps
        territory = territory_of[a["owner_id"]]
        assert links[a["id"]] == territory
        assert _in_territory(a["h3_cell"], cells[territory])
    assert Counter(a["status"] for a in accounts).keys() == {"customer", "prospect", "inactive"}

    contacts = await Contact.select().where(Contact.org_id == org)
    leads = await Lead.select().where(Lead.org_id == org)
    # Leads lie in their owner's territory (territory_id is what the server would assign).
    rep_of_territory = {tid: rep for rep, tid in territory_of.items()}
    for lead in leads:
        assert rep_of_territory[lead["territory_id"]] == lead["owner_id"]
        assert _in_territory(lead["h3_cell"], cells[lead["territory_id"]])

    # Phone numbers are valid E.164.
    assert 1.7 <= len(contacts) / len(accounts) <= 2.3
    numbers = [u["phone_e164"] for u in users.values()] + [a["phone_e164"] for a in accounts]
    numbers += [c[k] for c in contacts for k in ("phone_e164", "mobile_e164") if c[k]]
    numbers += [lead["phone_e164"] for lead in leads]
    for number in numbers:
        assert normalize_phone(number) == number
        assert phonenumbers.is_valid_number(phonenumbers.parse(number)), number

    # The funnel: about 6 wins from every 15 leads; conversions link both ways.
    opps = {o["id"]: o for o in await Opportunity.select().where(Opportunity.org_id == org)}
    won = sum(o["stage"] == "closed_won" for o in opps.values())
    assert 0.34 <= won / len(leads) <= 0.46
    for lead in leads:
        if lead["status"] == "converted":
            opp = opps[lead["opportunity_id"]]
            assert opp["lead_id"] == lead["id"] and opp["account_id"] == lead["account_id"]
            assert lead["contact_id"] and lead["converted_at"]
    changes = await StageChange.select().where(StageChange.org_id == org)
    assert {c["opportunity_id"] for c in changes} == set(opps)
    for o in opps.values():
        assert (o["closed_at"] is not None) == o["stage"].startswith("closed")

    # Activities: a Pareto team, quiet weekends, mostly verified check-ins, all inside history.
    acts = await Activity.select().where(Activity.org_id == org)
    zone = ZoneInfo("America/Chicago")
    start = datetime.combine(TODAY - timedelta(days=60), time(0), zone)
    as_of = datetime.combine(TODAY, time(0), zone)
    assert all(start <= a["occurred_at"] < as_of for a in acts)
    assert all(a["occurred_at"] <= a["received_at"] for a in acts)
    local = [a["occurred_at"].astimezone(ZoneInfo(users[a["rep_id"]]["timezone"])) for a in acts]
    assert sum(t.weekday() >= 5 for t in local) / len(acts) < 0.10
    assert all(8 <= t.hour < 18 for t in local)
    per_rep = sorted(Counter(a["rep_id"] for a in acts).values(), reverse=True)
    assert 0.30 <= sum(per_rep[: len(reps) // 5]) / len(acts) <= 0.50
    visits = [a for a in acts if a["type"] == "visit"]
    out = [v for v in visits if v["verification"] == "out_of_range"]
    assert 0.02 <= len(out) / len(visits) <= 0.08
    assert all(v["distance_m"] > 100 for v in out)
    assert all(v["distance_m"] <= 100 for v in visits if v["verification"] == "verified")
    assert any(v["verification"] == "unverifiable" for v in visits)
    # Reps work accounts in their own territory.
    owner_of = {a["id"]: a["owner_id"] for a in accounts}
    assert all(owner_of[a["account_id"]] == a["rep_id"] for a in acts if a["account_id"])

    # Stored as Piccolo stores them: types come back right, and comparisons work in SQL.
    row = acts[0]
    assert isinstance(row["id"], uuid.UUID) and isinstance(row["mock_location"], bool)
    assert row["occurred_at"].tzinfo is not None and row["occurred_at"].utcoffset() == timedelta(0)
    assert isinstance(accounts[0]["potential"], Decimal)
    assert isinstance(next(iter(opps.values()))["expected_close_date"], date)
    assert await Activity.count().where(Activity.org_id == org, Activity.occurred_at >= start,
                                        Activity.occurred_at < as_of) == len(acts)
    future = await Appointment.count().where(Appointment.org_id == org,
                                             Appointment.starts_at >= as_of)
    assert 0 < future < await Appointment.count().where(Appointment.org_id == org)


async def test_second_load_is_refused(db):
    small = {"reps": 2, "accounts": 40, "days": 14, "today": TODAY}
    await load_demo(**small)
    with pytest.raises(Conflict) as refused:
        await load_demo(**small)
    assert refused.value.code == "demo_exists"


CONFIG = DemoConfig(reps=4, accounts=120, days=30, seed=3, today=TODAY, password_hash="h")


def _digest(config: DemoConfig) -> tuple[str, list[uuid.UUID]]:
    data = generate(config)
    h = hashlib.sha256()
    for name, rows in data.tables.items():
        h.update(f"{name}{rows.columns}{rows.rows!r}".encode())
    return h.hexdigest(), [r[0] for r in data.tables["accounts"].rows]


def test_generator_is_deterministic():
    first, second = _digest(CONFIG), _digest(CONFIG)
    assert first == second
    other = _digest(replace(CONFIG, seed=4))
    assert other[0] != first[0] and not set(other[1]) & set(first[1])
    assert _digest(replace(CONFIG, today=TODAY + timedelta(days=1)))[0] != first[0]


def test_generator_does_not_depend_on_hash_seed():
    code = ("from tests.demo.test_demo_data import CONFIG, _digest; print(_digest(CONFIG)[0])")
    runs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
        for seed in ("1", "2")
    }
    assert runs == {_digest(CONFIG)[0]}
