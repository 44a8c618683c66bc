"""Organisation-local days (pure): which UTC instants make up a local date, and where the offset changes.

PostgreSQL converts with ``AT TIME ZONE``; SQLite knows no time zones, so its
statements are split into periods of constant UTC offset (``offset_periods``)
and each period shifts timestamps with a fixed ``'+N minutes'`` modifier.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):  # an unknown name stored by mistake: UTC rather than no metrics
        return ZoneInfo("UTC")


def parse_ts(value) -> datetime:
    """A timestamp as the drivers return it: a datetime (PostgreSQL, typed SQLite columns) or ISO text."""
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def local_day(ts: datetime, tz: ZoneInfo) -> date:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(tz).date()


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which ``day`` begins in ``tz``."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _offset_min(ts: datetime, tz: ZoneInfo) -> int:
    return int(ts.astimezone(tz).utcoffset().total_seconds() // 60)


def offset_periods(lo: datetime, hi: datetime, tz: ZoneInfo) -> list[tuple[datetime, datetime, int]]:
    """``[lo, hi)`` cut into ``(start, end, offset_minutes)`` pieces of constant UTC offset."""
    out: list[tuple[datetime, datetime, int]] = []
    start, current = lo, _offset_min(lo, tz)
    t = lo
    step = timedelta(hours=12)  # no zone changes its offset twice within 12 hours
    while t < hi:
        nxt = min(t + step, hi)
        off = _offset_min(nxt, tz) if nxt < hi else current
        if off != current:
            a, b = t, nxt  # offset(a) == current, offset(b) != current: find the change to the second
            while b - a > timedelta(seconds=1):
                mid = a + (b - a) / 2
                if _offset_min(mid, tz) == current:
                    a = mid
                else:
                    b = mid
            change = b.replace(microsecond=0)  # offsets change on whole seconds
            if _offset_min(change, tz) == current:
                change += timedelta(seconds=1)
            out.append((start, change, current))
            start, current = change, _offset_min(change, tz)
        t = nxt
    out.append((start, hi, current))
    return out


def day_range(lo: date, hi: date) -> int:
    return (hi - lo).days + 1
