"""A window across a daylight-saving change in the org's time zone: edges count exactly once.

Windows are UTC instants, half-open. The org in New York defines March (local midnight to
local midnight) and the week after it; DST starts on 8 March 2026 (02:00 EST -> 03:00 EDT),
so the window is 30 days 23 hours long. There is no per-day grouping in contest scores:
only the window edges matter.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from server.incentives.lifecycle import advance
from tests.incentives.helpers import act, contest_in, make_field, publish, scores

NY = ZoneInfo("America/New_York")
MARCH = datetime(2026, 3, 1, tzinfo=NY)
APRIL = datetime(2026, 4, 1, tzinfo=NY)
AFTER = datetime(2026, 4, 8, tzinfo=NY)
TICK = timedelta(microseconds=1)


async def test_edges_across_dst_count_exactly_once(db):
    f = await make_field(1, timezone="America/New_York")
    rep = f.reps[0]
    assert APRIL - MARCH == timedelta(days=31) and (APRIL.astimezone(ZoneInfo("UTC")) - MARCH.astimezone(
        ZoneInfo("UTC"))) == timedelta(days=30, hours=23)
    for at in (MARCH - TICK, MARCH, datetime(2026, 3, 8, 3, 0, tzinfo=NY),  # the first instant of EDT
               datetime(2026, 3, 8, 1, 59, 59, tzinfo=NY), APRIL - TICK, APRIL, AFTER - TICK, AFTER):
        await act(rep, at.astimezone(ZoneInfo("UTC")))
    march = await publish(f.manager, contest_in(f.reps, starts=MARCH, ends=APRIL, name="March"))
    week = await publish(f.manager, contest_in(f.reps, starts=APRIL, ends=AFTER, name="April week"))
    # Improvement's baseline is the same length in UTC just before the window: it ends at MARCH.
    baseline = await publish(f.manager, contest_in(f.reps, starts=APRIL, ends=AFTER, scoring="improvement",
                                                   name="April vs. the week before"))
    for c in (march, week, baseline):
        assert c["starts_at"].utcoffset() == timedelta(0)  # stored as the UTC instant
        await advance(c["id"], AFTER)
    # March: its first instant, both sides of the jump and its last microsecond; not April 1 00:00 local.
    assert await scores(march["id"]) == {rep.id: (4.0, 1)}
    # The week after: April 1 00:00 local (counted here, not in March) and its last microsecond.
    assert await scores(week["id"]) == {rep.id: (2.0, 1)}
    # Baseline [APRIL - 7 days, APRIL): only APRIL - 1 microsecond; improvement 2 - 1.
    assert await scores(baseline["id"]) == {rep.id: (1.0, 1)}
