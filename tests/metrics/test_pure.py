"""Pure parts of the rollup: offset periods of a time zone and the chunk plan."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from server.metrics.days import day_start, offset_periods, zone
from server.metrics.rollup import plan_chunks

NY = zone("America/New_York")


def test_offset_periods_cut_exactly_at_the_changes():
    lo, hi = day_start(date(2026, 1, 1), NY), day_start(date(2027, 1, 1), NY)
    assert offset_periods(lo, hi, NY) == [
        (lo, datetime(2026, 3, 8, 7, tzinfo=UTC), -300),
        (datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC), -240),
        (datetime(2026, 11, 1, 6, tzinfo=UTC), hi, -300),
    ]
    assert offset_periods(lo, lo + timedelta(days=3), zone("UTC")) == [(lo, lo + timedelta(days=3), 0)]


def test_unknown_zone_names_fall_back_to_utc():
    assert zone("Not/AZone").key == "UTC" and zone(None).key == "UTC"


def test_chunks_cover_every_rep_and_keep_late_reps_apart():
    today = date(2026, 11, 26)
    spans = {f"r{i:03}": (today - timedelta(days=6 if i < 20 else 2), today) for i in range(200)}
    chunks = plan_chunks(spans)
    assert sorted(r for reps, _, _ in chunks for r in reps) == sorted(spans)
    for reps, lo, hi in chunks:
        assert all(lo <= spans[r][0] and spans[r][1] <= hi for r in reps)
    assert sum(len(reps) * ((hi - lo).days + 1) for reps, lo, hi in chunks) <= 1.25 * (20 * 7 + 180 * 3)
    year = {f"r{i}": (date(2025, 11, 27), today) for i in range(200)}
    assert all(len(reps) * 365 <= 10_000 for reps, _, _ in plan_chunks(year))
