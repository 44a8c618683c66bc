"""The daily rollup: every measure hand-computed, org-local days across DST, late and deleted rows,
idempotence, and a run killed midway."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from server.comms.tables import Activity
from server.jobs.registry import JOBS, Window
from server.metrics import jobs
from server.metrics.rollup import roll_up_org
from tests.builders import make_org, make_user
from tests.metrics.helpers import (
    activity,
    appointment,
    cells,
    delete,
    lead,
    local,
    opportunity,
    set_timezone,
    visit,
    watermarks,
)

DAY = date(2026, 6, 10)  # EDT (UTC-4)


async def _fixture_day():
    org = await make_org()
    await set_timezone(org, "America/New_York")
    rep = await make_user(org)
    # Visits: 09:00-09:30 verified, 10:00-10:45 out of range (travel 30 min between them),
    # 20:30 (after working hours: no travel counted into it), 11:00 deleted, 23:30 local (03:30 UTC next day).
    await visit(rep, local(DAY, 9), 30, verification="verified")
    await visit(rep, local(DAY, 10), 45, verification="out_of_range")
    await visit(rep, local(DAY, 20, 30))
    gone = await visit(rep, local(DAY, 11), 10, verification="verified")
    await delete(Activity, gone, local(DAY, 12))
    await visit(rep, local(DAY, 23, 30), verification="verified")
    # Calls: connected and verified (120 s), connected (60 s), voicemail.
    await activity(rep, "call", local(DAY, 13), outcome="connected", duration_s=120, verification="verified")
    await activity(rep, "call", local(DAY, 14), outcome="connected", duration_s=60)
    await activity(rep, "call", local(DAY, 15), outcome="voicemail", duration_s=0)
    for h in (8, 16):
        await activity(rep, "text", local(DAY, h))
    await activity(rep, "email", local(DAY, 17))
    await activity(rep, "meeting", local(DAY, 18))
    await activity(rep, "note", local(DAY, 18, 30))
    await appointment(rep, local(DAY, 12, 15))
    for _ in range(2):
        await lead(rep, local(DAY, 9, 5))
    await lead(rep, local(DAY - timedelta(days=5), 9), converted=local(DAY, 15, 30))
    await opportunity(rep, local(DAY, 10, 50))
    await opportunity(rep, local(DAY - timedelta(days=20), 9), "closed_won", local(DAY, 16, 40), "1000.50")
    await opportunity(rep, local(DAY - timedelta(days=20), 9), "closed_lost", local(DAY, 16, 50), "200")
    return org, rep


EXPECTED_DAY = {
    "visits": 4, "visits_verified": 2, "dwell_n": 2, "dwell_s": 30 * 60 + 45 * 60,
    "travel_n": 1, "travel_s": 30 * 60,
    "calls": 3, "calls_connected": 2, "calls_verified": 1, "connected_call_s": 180,
    "texts": 2, "emails": 1, "meetings": 1, "appointments_set": 1,
    "leads_created": 2, "leads_converted": 1, "opps_created": 1,
    "opps_won": 1, "opps_won_cents": 100050, "opps_lost": 1, "opps_lost_cents": 20000,
}


async def test_every_measure_of_a_fixture_day(db):
    org, rep = await _fixture_day()
    result = await roll_up_org(org)
    assert result.changed["activities"] == 13  # the deleted visit included
    got = await cells(org)
    assert got[(rep.id, DAY)] == EXPECTED_DAY
    # The lead and the deals were created on earlier days: credited there.
    assert got[(rep.id, DAY - timedelta(days=5))] == {"leads_created": 1}
    assert got[(rep.id, DAY - timedelta(days=20))] == {"opps_created": 2}
    assert len(got) == 3


async def test_running_twice_and_rebuilding_give_the_same_rows(db):
    org, _ = await _fixture_day()
    await roll_up_org(org)
    first, marks = await cells(org), await watermarks(org)
    again = await roll_up_org(org)
    assert again.cells == 0 and again.chunks == 0
    assert await cells(org) == first and await watermarks(org) == marks
    await jobs.rebuild(org)
    assert await cells(org) == first and await watermarks(org) == marks


async def test_late_activity_lands_on_its_own_day(db):
    org = await make_org()
    rep = await make_user(org)
    today = datetime(2026, 6, 20, 15, tzinfo=UTC)
    await activity(rep, "call", today)
    await roll_up_org(org)
    # A phone offline for three days syncs a visit made three days ago: new version, old occurred_at.
    await visit(rep, today - timedelta(days=3), 20)
    result = await roll_up_org(org)
    assert result.changed["activities"] == 1
    got = await cells(org)
    assert got[(rep.id, date(2026, 6, 17))] == {"visits": 1, "dwell_n": 1, "dwell_s": 1200}
    assert got[(rep.id, date(2026, 6, 20))] == {"calls": 1}


async def test_a_deleted_activity_leaves_the_counts(db):
    org = await make_org()
    rep = await make_user(org)
    at = datetime(2026, 6, 20, 15, tzinfo=UTC)
    keep = await activity(rep, "text", at)
    gone = await activity(rep, "text", at + timedelta(hours=1))
    await roll_up_org(org)
    assert (await cells(org))[(rep.id, at.date())] == {"texts": 2}
    await delete(Activity, gone, at + timedelta(hours=2))
    await roll_up_org(org)
    assert (await cells(org))[(rep.id, at.date())] == {"texts": 1}
    await delete(Activity, keep, at + timedelta(hours=2))
    await roll_up_org(org)
    assert await cells(org) == {}  # an empty day leaves no row


@pytest.mark.parametrize(("when", "expected"), [
    (datetime(2026, 3, 8, 4, 30, tzinfo=UTC), date(2026, 3, 7)),    # 23:30 EST on the 7th
    (datetime(2026, 3, 8, 5, 30, tzinfo=UTC), date(2026, 3, 8)),    # 00:30 EST on the 8th
    (datetime(2026, 3, 9, 3, 30, tzinfo=UTC), date(2026, 3, 8)),    # 23:30 EDT on the change day
    (datetime(2026, 3, 9, 4, 30, tzinfo=UTC), date(2026, 3, 9)),    # 00:30 EDT
    (datetime(2026, 11, 1, 3, 30, tzinfo=UTC), date(2026, 10, 31)), # 23:30 EDT before the change
    (datetime(2026, 11, 2, 4, 30, tzinfo=UTC), date(2026, 11, 1)),  # 23:30 EST on the change day
    (datetime(2026, 11, 2, 5, 30, tzinfo=UTC), date(2026, 11, 2)),  # 00:30 EST
])
async def test_local_days_across_daylight_saving_changes(db, when, expected):
    org = await make_org()
    await set_timezone(org, "America/New_York")
    rep = await make_user(org)
    await activity(rep, "call", when)
    await activity(rep, "call", datetime(2026, 1, 15, 12, tzinfo=UTC))  # spans both changes in one run
    await roll_up_org(org)
    got = await cells(org)
    assert got[(rep.id, expected)] == {"calls": 1}
    assert got[(rep.id, date(2026, 1, 15))] == {"calls": 1}


async def test_a_run_killed_midway_then_rerun_gives_the_same_rows(db):
    org = await make_org()
    reps = [await make_user(org) for _ in range(4)]
    base = datetime(2026, 6, 1, 15, tzinfo=UTC)
    for i, rep in enumerate(reps):
        for d in range(3):
            await visit(rep, base + timedelta(days=d, minutes=i), 10 + i)
    await roll_up_org(org)
    expected = await cells(org)
    marks = await watermarks(org)
    # New rows for every rep, then a run that dies after its first chunk (one rep per chunk).
    for rep in reps:
        await activity(rep, "call", base + timedelta(days=1), outcome="connected", duration_s=30)
    extra = await activity(reps[0], "text", base)
    await delete(Activity, extra, base + timedelta(days=9))

    async def die(i: int) -> None:
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        await roll_up_org(org, max_cells=1, after_chunk=die)
    assert await watermarks(org) == marks  # not advanced: the next run redoes every touched cell
    result = await roll_up_org(org, max_cells=1)
    assert result.chunks == 4
    for rep in reps:
        expected[(rep.id, date(2026, 6, 2))] |= {"calls": 1, "calls_connected": 1, "connected_call_s": 30}
    assert await cells(org) == expected
    await jobs.rebuild(org)
    assert await cells(org) == expected


async def test_the_job_rolls_up_every_org(db):
    orgs = [await make_org() for _ in range(2)]
    for org in orgs:
        rep = await make_user(org)
        await activity(rep, "email", datetime(2026, 6, 20, 15, tzinfo=UTC))
    spec = JOBS["metrics_rollup"]
    assert spec.every_s == 60
    window = Window(start=datetime(2026, 6, 20, tzinfo=UTC), end=datetime(2026, 6, 20, 0, 1, tzinfo=UTC))
    summary = await spec.run(window)
    assert summary.endswith("2 activities, 2 cells")
    assert (await spec.run(window)).endswith("0 activities, 0 cells")
    for org in orgs:
        assert list((await cells(org)).values()) == [{"emails": 1}]


@pytest.mark.parametrize("listed", [2000, 0])  # days listed one by one, or (a big change) a day range
async def test_a_reassigned_lead_leaves_its_former_owner(db, monkeypatch, listed):
    from server.metrics import rollup
    from server.pipeline.tables import Lead
    from tests.metrics.helpers import restamp

    monkeypatch.setattr(rollup, "MAX_LISTED_ROWS", listed)

    org = await make_org()
    first, second = await make_user(org), await make_user(org)
    at = datetime(2026, 6, 2, 15, tzinfo=UTC)
    moved = await lead(first, at)
    await lead(first, at + timedelta(hours=1))
    await roll_up_org(org)
    assert (await cells(org))[(first.id, date(2026, 6, 2))] == {"leads_created": 2}
    await restamp(Lead, moved, owner_id=second.id)
    await roll_up_org(org)
    got = await cells(org)
    assert got[(first.id, date(2026, 6, 2))] == {"leads_created": 1}
    assert got[(second.id, date(2026, 6, 2))] == {"leads_created": 1}
