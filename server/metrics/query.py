"""Roll-ups of ``rep_day_metrics`` for the API: a rep, a team (by effective-dated membership),
a territory (computed from the sources at query time) or the caller's scope, per period bucket.

Days are summed in SQL (one row per day), buckets and ratios are made here
from those sums, so a week or a quarter is exactly the sum of its days.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from server.access.scope import Scope
from server.common.errors import Forbidden, Invalid, NotFound
from server.common.time import utcnow
from server.db import direct
from server.db.engine import is_sqlite
from server.db.tx import unit_of_work
from server.metrics.days import day_start, local_day, parse_ts
from server.metrics.definitions import (
    MAX_RANGE_DAYS,
    MEASURES,
    MISSING,
    PERIODS,
    RATIOS,
    TRAVEL_RULE,
    public_measures,
    ratio_value,
)
from server.metrics.rollup import org_zone
from server.metrics.schemas import (
    Measures,
    MetricsBucket,
    MetricsReport,
    Missing,
    MissingValue,
    Ratios,
    RatioValue,
)
from server.metrics.sql import Sql, in_list, measure_rows

DEFAULT_DAYS = 30
TERRITORY_NOTE = ("territory metrics are computed at query time from the sources: activities, "
                  "opportunities and appointments on the accounts placed in the territory now, and leads "
                  "assigned to it")
TEAM_NOTE = ("a rep counts for the team on the days from the local day they joined up to, not "
             "including, the local day they left")


def bucket_of(day: date, period: str) -> tuple[date, date]:
    """The calendar bucket holding ``day``: itself, its ISO week (Monday-Sunday), month or quarter."""
    if period == "day":
        return day, day
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    first_month = day.month if period == "month" else 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    months = 1 if period == "month" else 3
    year, month = divmod(first_month - 1 + months, 12)
    return start, date(day.year + year, month + 1, 1) - timedelta(days=1)


def check_range(period: str, from_date: date | None, to_date: date | None, today: date) -> tuple[date, date]:
    if period not in PERIODS:
        raise Invalid(f"period must be one of {', '.join(PERIODS)}", code="unknown_period", field="period")
    to_date = to_date or today
    from_date = from_date or to_date - timedelta(days=DEFAULT_DAYS - 1)
    if from_date > to_date:
        raise Invalid("from is after to", code="from_after_to", field="from")
    if (to_date - from_date).days + 1 > MAX_RANGE_DAYS:
        raise Invalid(f"at most {MAX_RANGE_DAYS} days at once", code="range_too_long", field="to")
    return from_date, to_date


def _bucket(start: date, end: date, lo: date, hi: date, totals: dict[str, int]) -> MetricsBucket:
    ratios = {r.name: RatioValue(**ratio_value(r, totals)) for r in RATIOS}
    return MetricsBucket(
        period_start=start, period_end=end, partial=start < lo or end > hi,
        measures=Measures(**public_measures(totals)), ratios=Ratios(**ratios),
        missing=Missing(**{name: MissingValue(reason=reason) for name, reason in MISSING.items()}))


def buckets(per_day: dict[date, dict[str, int]], period: str, lo: date, hi: date
            ) -> tuple[list[MetricsBucket], MetricsBucket]:
    """Every bucket between ``lo`` and ``hi`` (empty ones too) and the total of the range."""
    sums: dict[tuple[date, date], dict[str, int]] = {}
    day = lo
    while day <= hi:
        sums.setdefault(bucket_of(day, period), dict.fromkeys(MEASURES, 0))
        day += timedelta(days=1)
    total = dict.fromkeys(MEASURES, 0)
    for day, values in per_day.items():
        if lo <= day <= hi:
            target = sums[bucket_of(day, period)]
            for m in MEASURES:
                target[m] += values[m]
                total[m] += values[m]
    out = [_bucket(s, e, lo, hi, v) for (s, e), v in sorted(sums.items())]
    return out, _bucket(lo, hi, lo, hi, total)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _rows_by_day(rows: list[tuple]) -> dict[date, dict[str, int]]:
    return {_as_date(r[0]): {m: int(v or 0) for m, v in zip(MEASURES, r[1:], strict=True)} for r in rows}


async def _daily(org_id: uuid.UUID, lo: date, hi: date, cond: Sql | None) -> dict[date, dict[str, int]]:
    sqlite = is_sqlite()
    sums = ", ".join(f"SUM({m})" for m in MEASURES)
    where = f" AND ({cond.text})" if cond is not None else ""
    args = [org_id, *(d.isoformat() if sqlite else d for d in (lo, hi)), *(cond.args if cond else [])]
    rows = await direct.fetch(
        f"SELECT day, {sums} FROM rep_day_metrics WHERE org_id = ? AND day >= ? AND day <= ?{where} "
        "GROUP BY day", args)
    return _rows_by_day(rows)


async def _one(sql: str, args: list) -> tuple | None:
    rows = await direct.fetch(sql, args)
    return rows[0] if rows else None


async def _team_members(org_id: uuid.UUID, team_id: uuid.UUID, tz) -> list[tuple[uuid.UUID, date, date | None]]:
    rows = await direct.fetch(
        "SELECT CAST(user_id AS TEXT), valid_from, valid_to FROM team_memberships "
        "WHERE org_id = ? AND team_id = ?", [org_id, team_id])
    out = []
    for user, since, until in rows:
        start = local_day(parse_ts(since), tz)
        end = local_day(parse_ts(until), tz) - timedelta(days=1) if until is not None else None
        out.append((uuid.UUID(user), start, end))
    return out


def _membership_cond(members: list[tuple[uuid.UUID, date, date | None]]) -> Sql:
    sqlite = is_sqlite()
    parts, args = [], []
    for user, start, end in members:
        if end is not None and end < start:
            continue
        parts.append("(rep_id = ? AND day >= ?" + (" AND day <= ?)" if end is not None else ")"))
        args += [user, start.isoformat() if sqlite else start]
        if end is not None:
            args.append(end.isoformat() if sqlite else end)
    return Sql(" OR ".join(parts) or "1 = 0", args)


async def metrics(scope: Scope, *, rep_id: uuid.UUID | None = None, team_id: uuid.UUID | None = None,
                  territory_id: uuid.UUID | None = None, period: str = "day",
                  from_date: date | None = None, to_date: date | None = None) -> MetricsReport:
    """The caller's view of metrics for one rep, team, territory, or (none given) their whole scope."""
    if sum(x is not None for x in (rep_id, team_id, territory_id)) > 1:
        raise Invalid("give at most one of rep_id, team_id, territory_id", code="one_subject")
    org_id = scope.org_id
    async with unit_of_work():
        tz = await org_zone(org_id)
        lo, hi = check_range(period, from_date, to_date, local_day(utcnow(), tz))
        sqlite = is_sqlite()
        notes: list[str] = [TRAVEL_RULE]
        if rep_id is not None:
            subject, subject_id = "rep", rep_id
            if not await _one("SELECT 1 FROM users WHERE id = ? AND org_id = ?", [rep_id, org_id]):
                raise NotFound("no such rep", code="not_found")
            if scope.members is not None and rep_id not in scope.members:
                raise Forbidden("you may only see metrics of yourself or your team", code="forbidden")
            per_day = await _daily(org_id, lo, hi, Sql("rep_id = ?", [rep_id]))
        elif team_id is not None:
            subject, subject_id = "team", team_id
            team = await _one("SELECT CAST(manager_id AS TEXT) FROM teams WHERE id = ? AND org_id = ? "
                              "AND deleted_at IS NULL", [team_id, org_id])
            if not team:
                raise NotFound("no such team", code="not_found")
            members = await _team_members(org_id, team_id, tz)
            if scope.members is not None:
                mine = team[0] is not None and uuid.UUID(team[0]) == scope.principal.user_id
                if not (scope.principal.is_manager and (mine or {m for m, _, _ in members} <= scope.members)):
                    raise Forbidden("you may only see metrics of your own team", code="forbidden")
            per_day = await _daily(org_id, lo, hi, _membership_cond(members))
            notes.append(TEAM_NOTE)
        elif territory_id is not None:
            subject, subject_id = "territory", territory_id
            if not await _one("SELECT 1 FROM territories WHERE id = ? AND org_id = ? AND deleted_at IS NULL",
                              [territory_id, org_id]):
                raise NotFound("no such territory", code="not_found")
            if scope.members is not None and territory_id not in scope.owned_territories:
                raise Forbidden("you may only see metrics of territories you or your team own",
                                code="forbidden")
            accounts = Sql("SELECT account_id FROM territory_accounts WHERE org_id = ? AND territory_id = ? "
                           "AND valid_to IS NULL", [org_id, territory_id])
            q = measure_rows(org_id, tz, day_start(lo, tz), day_start(hi + timedelta(days=1), tz), sqlite,
                             accounts=accounts, territory=territory_id)
            per_day = _rows_by_day([r[1:] for r in await direct.fetch(q.text, q.args)])
            notes.append(TERRITORY_NOTE)
        else:
            subject, subject_id = "scope", None
            cond = None if scope.members is None else in_list("rep_id", sorted(scope.members), sqlite)
            per_day = await _daily(org_id, lo, hi, cond)
    rows, total = buckets(per_day, period, lo, hi)
    return MetricsReport(subject=subject, subject_id=subject_id, period=period, from_date=lo, to_date=hi,
                         timezone=tz.key, buckets=rows, total=total, notes=notes)
