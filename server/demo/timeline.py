"""The demo's clock: which days are history, and when in a day people work.

Everything is derived from ``today`` (a date), never from the wall clock, so a
fixed ``today`` gives the same timestamps on every run. History is the
``days`` whole local days before ``today``; ``as_of`` (midnight starting
``today`` in the organisation's zone) is the newest past timestamp written, so
with the default ``today`` nothing lies in the real future except the
appointments and tasks that are meant to.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
WORK_START_H = 8.0
WORK_END_H = 18.0
#: Relative chance that a given day carries an activity: quiet weekends.
DAY_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 1.0, 0.2, 0.06)


@dataclass
class Timeline:
    today: date
    days: int
    org_timezone: str
    #: Midnight (org zone) starting ``today``: nothing in the past is later.
    as_of: datetime = field(init=False)
    #: Midnight (org zone) at the start of the first history day.
    start: datetime = field(init=False)
    _offsets: dict[tuple[str, date], timedelta] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        zone = ZoneInfo(self.org_timezone)
        first = self.today - timedelta(days=self.days)
        self.as_of = datetime.combine(self.today, time(0), zone).astimezone(UTC)
        self.start = datetime.combine(first, time(0), zone).astimezone(UTC)
        self._latest = self.as_of - timedelta(seconds=1)

    def history_dates(self) -> list[date]:
        first = self.today - timedelta(days=self.days)
        return [first + timedelta(days=i) for i in range(self.days)]

    def local(self, day: date, seconds: int, tz: str) -> datetime:
        """``seconds`` after local midnight of ``day`` in ``tz``, as UTC.

        The offset is taken at noon and cached per (zone, day): converting
        100,000 activities through ``zoneinfo`` one by one would dominate the
        run. Working hours never touch the 2 a.m. DST switch, so noon's offset
        is the right one for them.
        """
        key = (tz, day)
        offset = self._offsets.get(key)
        if offset is None:
            offset = ZoneInfo(tz).utcoffset(datetime.combine(day, time(12)))
            self._offsets[key] = offset
        return datetime.combine(day, time(0), UTC) + timedelta(seconds=seconds) - offset

    def local_date(self, moment: datetime, tz: str) -> date:
        return moment.astimezone(ZoneInfo(tz)).date()

    def work_moment(self, rng: random.Random, day: date, tz: str) -> datetime:
        """A random moment of a working day, busiest late morning and mid-afternoon."""
        peak = 10.5 if rng.random() < 0.5 else 14.5
        hours = rng.triangular(WORK_START_H, WORK_END_H - 0.25, peak)
        return self.local(day, round(hours * 3600), tz)

    def before_history(self, rng: random.Random, max_days: int) -> datetime:
        """A moment some time before history starts (records that already existed)."""
        return self.start - timedelta(seconds=rng.randint(3600, max_days * 86400))

    def clamp_past(self, moment: datetime) -> datetime:
        return moment if moment <= self._latest else self._latest


def is_weekend(day: date) -> bool:
    return day.weekday() >= 5
