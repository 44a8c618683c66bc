"""Roll-ups for the API: ratios with minimum denominators, buckets, teams by membership dates,
territories, and who may ask for what over HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from server.common.records import insert_record
from server.db.ids import new_id
from server.db.tx import unit_of_work
from server.metrics.definitions import RATIOS, ratio_value
from server.metrics.query import bucket_of, metrics
from server.metrics.rollup import roll_up_org
from server.orgs.tables import Team, TeamMembership
from tests.activity_builders import give_territory, make_account, scope_of
from tests.builders import auth_headers, make_org, make_user
from tests.metrics.helpers import activity, lead, opportunity, visit

RATIO = {r.name: r for r in RATIOS}
NOON = datetime(2026, 5, 1, 12, tzinfo=UTC)


def test_ratios_need_their_minimum_denominator():
    one = ratio_value(RATIO["lead_to_opportunity"], {"leads_created": 1, "leads_converted": 1})
    assert one == {"value": None, "numerator": 1, "denominator": 1, "reason": "not_enough_data"}
    wins = ratio_value(RATIO["win_rate"], {"opps_won": 2, "opps_lost": 2})
    assert wins["value"] is None and wins["denominator"] == 4
    assert ratio_value(RATIO["win_rate"], {"opps_won": 6, "opps_lost": 9})["value"] == pytest.approx(0.4)
    assert ratio_value(RATIO["avg_deal"], {"opps_won": 2, "opps_won_cents": 30001})["value"] == pytest.approx(150.005)
    assert ratio_value(RATIO["avg_dwell_s"], {})["reason"] == "not_enough_data"


@pytest.mark.parametrize(("day", "period", "bucket"), [
    (date(2026, 5, 13), "day", (date(2026, 5, 13), date(2026, 5, 13))),
    (date(2026, 5, 13), "week", (date(2026, 5, 11), date(2026, 5, 17))),   # a Wednesday: Monday-Sunday
    (date(2026, 1, 1), "week", (date(2025, 12, 29), date(2026, 1, 4))),     # ISO week across the year
    (date(2026, 2, 13), "month", (date(2026, 2, 1), date(2026, 2, 28))),
    (date(2026, 5, 13), "quarter", (date(2026, 4, 1), date(2026, 6, 30))),
    (date(2026, 12, 31), "quarter", (date(2026, 10, 1), date(2026, 12, 31))),
])
def test_calendar_buckets(day, period, bucket):
    assert bucket_of(day, period) == bucket


async def test_six_wins_out_of_fifteen_is_forty_percent(db):
    org = await make_org()
    admin = await make_user(org, "admin")
    rep = await make_user(org)
    account = await make_account(rep)
    for i in range(15):  # 15 leads, 6 converted; 15 deals closed, 6 won at 100.00 each
        day = NOON + timedelta(days=i)
        await lead(rep, day, converted=day + timedelta(hours=1) if i < 6 else None)
        await opportunity(rep, day, "closed_won" if i < 6 else "closed_lost", day + timedelta(hours=2),
                          "100" if i < 6 else "50", account_id=account)
    await roll_up_org(org)
    report = await metrics(await scope_of(admin), rep_id=rep.id, period="month",
                           from_date=date(2026, 5, 1), to_date=date(2026, 5, 31))
    total = report.total
    assert total.ratios.win_rate.value == pytest.approx(0.4)
    assert (total.ratios.win_rate.numerator, total.ratios.win_rate.denominator) == (6, 15)
    assert total.ratios.lead_to_opportunity.value == pytest.approx(0.4)
    assert total.ratios.avg_deal.value == pytest.approx(100.0)
    assert total.measures.opps_won_amount == 600.0 and total.measures.opps_lost_amount == 450.0
    assert total.missing.admin_s.value is None and total.missing.admin_s.reason == "no_data_source"
    # A week with two closed deals: too few for a rate, shown as such and never as 100%.
    week = await metrics(await scope_of(admin), rep_id=rep.id, period="day",
                         from_date=date(2026, 5, 1), to_date=date(2026, 5, 1))
    assert week.total.ratios.win_rate.value is None
    assert week.total.ratios.win_rate.reason == "not_enough_data"


async def test_week_month_and_quarter_buckets_sum_the_days(db):
    org = await make_org()
    rep = await make_user(org)
    for d in range(92):  # one call a day, April to June
        await activity(rep, "call", datetime(2026, 4, 1, 15, tzinfo=UTC) + timedelta(days=d))
    await roll_up_org(org)
    scope = await scope_of(rep)
    months = await metrics(scope, period="month", from_date=date(2026, 4, 1), to_date=date(2026, 6, 30))
    assert [(b.period_start, b.measures.calls) for b in months.buckets] == [
        (date(2026, 4, 1), 30), (date(2026, 5, 1), 31), (date(2026, 6, 1), 30)]
    quarter = await metrics(scope, period="quarter", from_date=date(2026, 4, 1), to_date=date(2026, 6, 30))
    assert [(b.period_start, b.period_end, b.measures.calls, b.partial) for b in quarter.buckets] == [
        (date(2026, 4, 1), date(2026, 6, 30), 91, False)]
    weeks = await metrics(scope, period="week", from_date=date(2026, 5, 1), to_date=date(2026, 5, 31))
    assert weeks.buckets[0].period_start == date(2026, 4, 27) and weeks.buckets[0].partial
    assert weeks.buckets[0].measures.calls == 3  # Fri 1 to Sun 3 May: only days in the range
    assert [b.measures.calls for b in weeks.buckets] == [3, 7, 7, 7, 7]
    assert weeks.total.measures.calls == 31


async def _member(team_id: uuid.UUID, org: uuid.UUID, user: uuid.UUID, since: datetime,
                  until: datetime | None = None) -> None:
    async with unit_of_work():
        await TeamMembership.insert(TeamMembership(id=new_id(), org_id=org, team_id=team_id, user_id=user,
                                                   valid_from=since, valid_to=until))


async def test_a_team_counts_a_rep_only_while_in_it(db):
    org = await make_org()
    manager = await make_user(org, "manager")
    stays, leaves = await make_user(org, manager=manager), await make_user(org, manager=manager)
    async with unit_of_work():
        team = (await insert_record(Team, org, {"name": "North", "manager_id": manager.id}))["id"]
    await _member(team, org, stays.id, datetime(2026, 1, 1, tzinfo=UTC))
    # Left on 15 June: counts for 1-14 June only.
    await _member(team, org, leaves.id, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 15, tzinfo=UTC))
    for d in range(30):
        for rep in (stays, leaves):
            await visit(rep, datetime(2026, 6, 1, 14, tzinfo=UTC) + timedelta(days=d), 15)
    await roll_up_org(org)
    report = await metrics(await scope_of(manager), team_id=team, period="month",
                           from_date=date(2026, 6, 1), to_date=date(2026, 6, 30))
    assert report.total.measures.visits == 30 + 14
    assert report.total.ratios.avg_dwell_s.value == pytest.approx(900)
    mine = await metrics(await scope_of(manager), period="month", from_date=date(2026, 6, 1),
                         to_date=date(2026, 6, 30))
    assert mine.subject == "scope" and mine.total.measures.visits == 60  # the manager's reports


async def test_territory_metrics_come_from_its_accounts(db):
    org = await make_org()
    admin = await make_user(org, "admin")
    rep = await make_user(org)
    inside, outside = await make_account(rep, "In"), await make_account(rep, "Out")
    territory = await give_territory(rep, inside)
    at = datetime(2026, 6, 3, 15, tzinfo=UTC)
    await visit(rep, at, 10, account_id=inside)
    await activity(rep, "call", at, account_id=inside, outcome="connected", duration_s=40)
    await visit(rep, at + timedelta(hours=1), 10, account_id=outside)
    await opportunity(rep, at, "closed_won", at + timedelta(hours=3), "70", account_id=inside)
    report = await metrics(await scope_of(rep), territory_id=territory, period="day",
                           from_date=date(2026, 6, 1), to_date=date(2026, 6, 7))
    m = report.total.measures
    assert (m.visits, m.calls_connected, m.connected_call_s, m.opps_won, m.opps_won_amount) == (1, 1, 40, 1, 70.0)
    assert await metrics(await scope_of(admin), territory_id=territory, period="week",
                         from_date=date(2026, 6, 1), to_date=date(2026, 6, 7))


async def test_who_may_ask_for_what(db, client):
    org = await make_org()
    admin = await make_user(org, "admin")
    manager = await make_user(org, "manager")
    rep = await make_user(org, manager=manager)
    other = await make_user(org)  # not in the manager's team
    stranger = await make_user(await make_org())
    await activity(rep, "text", datetime(2026, 6, 3, 15, tzinfo=UTC))
    await activity(other, "text", datetime(2026, 6, 3, 15, tzinfo=UTC))
    await roll_up_org(org)
    span = {"from": "2026-06-01", "to": "2026-06-30", "period": "week"}

    headers = {p.id: await auth_headers(client, p) for p in (admin, manager, rep)}  # logins are rate-limited

    async def ask(person, **params):
        return await client.get("/api/v1/metrics", params={**span, **params}, headers=headers[person.id])

    r = await ask(rep)
    assert r.status_code == 200 and r.json()["total"]["measures"]["texts"] == 1
    assert r.json()["total"]["missing"]["admin_s"] == {"value": None, "reason": "no_data_source"}
    assert (await ask(rep, rep_id=str(rep.id))).status_code == 200
    r = await ask(rep, rep_id=str(other.id))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert (await ask(manager, rep_id=str(rep.id))).status_code == 200
    assert (await ask(manager, rep_id=str(other.id))).status_code == 403
    assert (await ask(admin, rep_id=str(other.id))).status_code == 200
    assert (await ask(admin)).json()["total"]["measures"]["texts"] == 2
    r = await ask(admin, rep_id=str(stranger.id))
    assert r.status_code == 404
    assert (await ask(admin, team_id=str(uuid.uuid4()))).status_code == 404
    for params, code in (({"from": "2026-07-01"}, "from_after_to"),
                         ({"from": "2025-01-01"}, "range_too_long"),
                         ({"period": "fortnight"}, "unknown_period")):
        r = await ask(admin, **params)
        assert r.status_code == 422 and r.json()["code"] == code, r.text
    assert (await ask(admin, **{"from": "yesterday"})).status_code in (400, 422)
