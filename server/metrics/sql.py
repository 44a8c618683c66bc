"""The set-based SQL that computes daily measures from the source tables (both engines).

``measure_rows`` returns one ``SELECT key, day, <every measure>`` over the
source tables for a UTC window, grouped by a key (the rep, or a constant for a
territory) and the org-local day. On PostgreSQL the day is
``(ts AT TIME ZONE tz)::date``; on SQLite each branch is repeated per period of
constant UTC offset with ``date(ts, '+N minutes')``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from server.metrics.days import offset_periods
from server.metrics.definitions import MEASURES, WORKDAY_END, WORKDAY_START


class Sql:
    """A fragment and its ``?`` arguments."""

    def __init__(self, text: str, args: Sequence[Any] = ()) -> None:
        self.text, self.args = text, list(args)


def in_list(column: str, values: Sequence[Any], sqlite: bool) -> Sql:
    if sqlite:
        return Sql(f"{column} IN ({', '.join('?' * len(values))})", values)
    return Sql(f"{column} = ANY(?)", [list(values)])


def seconds_between(later: str, earlier: str, sqlite: bool) -> str:
    if sqlite:
        return f"CAST(ROUND((julianday({later}) - julianday({earlier})) * 86400) AS INTEGER)"
    return f"CAST(ROUND(EXTRACT(EPOCH FROM ({later} - {earlier}))) AS BIGINT)"


def _zeros(skip: dict[str, str]) -> str:
    return ", ".join(f"{skip.get(m, '0')} AS {m}" for m in MEASURES)


def _branch(select: str, table: str, ts: str, where: Sql, lo: datetime, hi: datetime, tz: ZoneInfo,
            sqlite: bool) -> Sql:
    """``select`` (which may use ``{day}`` and ``{t:col}`` local time-of-day) from ``table`` rows whose
    ``ts`` falls in ``[lo, hi)``, with the local day of ``ts``."""
    if not sqlite:
        text = select.replace("{day}", f"(({ts}) AT TIME ZONE ?)::date")
        for col in ("occurred_at", "ended_at"):
            text = text.replace(f"{{t:{col}}}", f"(({col}) AT TIME ZONE ?)::time")
        tz_args = [tz.key] * (select.count("{day}") + select.count("{t:"))  # the select list comes first
        return Sql(f"SELECT {text} FROM {table} WHERE {where.text} AND {ts} >= ? AND {ts} < ?",
                   [*tz_args, *where.args, lo, hi])
    parts, args = [], []
    for a, b, off in offset_periods(lo, hi, tz):
        mod = f"'{off:+d} minutes'"
        text = select.replace("{day}", f"date({ts}, {mod})")
        for col in ("occurred_at", "ended_at"):
            text = text.replace(f"{{t:{col}}}", f"time({col}, {mod})")
        parts.append(f"SELECT {text} FROM {table} WHERE {where.text} AND {ts} >= ? AND {ts} < ?")
        args += [*where.args, a, b]
    return Sql(" UNION ALL ".join(parts), args)


def _activities(key: str, where: Sql, lo: datetime, hi: datetime, tz: ZoneInfo, sqlite: bool) -> Sql:
    base = _branch(f"{key} AS k, {{day}} AS day, {{t:occurred_at}} AS occ_t, {{t:ended_at}} AS end_t, "
                   "type, outcome, verification, occurred_at, ended_at, duration_s",
                   "activities", "occurred_at", where, lo, hi, tz, sqlite)
    start, end = (f"'{WORKDAY_START}'", f"'{WORKDAY_END}'") if sqlite else (
        f"TIME '{WORKDAY_START}'", f"TIME '{WORKDAY_END}'")
    gap = seconds_between("next_in", "ended_at", sqlite)
    own = seconds_between("ended_at", "occurred_at", sqlite)
    visit = "type = 'visit'"
    checked_out = f"{visit} AND ended_at IS NOT NULL"
    call_ok = "type = 'call' AND outcome = 'connected'"

    def count(cond: str) -> str:
        return f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END)"

    measures = {
        "visits": count(visit),
        "visits_verified": count(f"{visit} AND verification = 'verified'"),
        "calls": count("type = 'call'"),
        "calls_connected": count(call_ok),
        "calls_verified": count("type = 'call' AND verification = 'verified'"),
        "texts": count("type = 'text'"),
        "emails": count("type = 'email'"),
        "meetings": count("type = 'meeting'"),
        "dwell_n": count(checked_out),
        "dwell_s": f"SUM(CASE WHEN {checked_out} THEN COALESCE(duration_s, {own}) ELSE 0 END)",
        "travel_n": count("travel IS NOT NULL"),
        "travel_s": "SUM(COALESCE(travel, 0))",
        "connected_call_s": f"SUM(CASE WHEN {call_ok} THEN COALESCE(duration_s, {own}, 0) ELSE 0 END)",
    }
    text = (
        f"SELECT k, day, {_zeros(measures)} FROM ("
        f" SELECT w.*, CASE WHEN {checked_out} AND next_in IS NOT NULL AND next_in > ended_at"
        f" AND end_t >= {start} AND next_t <= {end} THEN {gap} END AS travel FROM ("
        f"  SELECT b.*, LEAD(occurred_at) OVER v AS next_in, LEAD(occ_t) OVER v AS next_t"
        f"  FROM ({base.text}) b"
        f"  WINDOW v AS (PARTITION BY k, day, type ORDER BY occurred_at)) w) x GROUP BY k, day"
    )
    return Sql(text, base.args)


def _cents(col: str, sqlite: bool) -> str:
    return f"CAST(ROUND({col} * 100) AS {'INTEGER' if sqlite else 'BIGINT'})"


def measure_rows(org_id: Any, tz: ZoneInfo, lo: datetime, hi: datetime, sqlite: bool, *,
                 reps: Sequence[Any] | None = None, accounts: Sql | None = None,
                 territory: Any = None) -> Sql:
    """``SELECT k, day, <MEASURES>`` (summed per key and day) from every source in ``[lo, hi)``.

    With ``reps`` the key is the rep (the rollup); with ``accounts`` (a sub-select
    of account ids) and ``territory`` the key is a constant and only records on
    those accounts (leads: in that territory) count.
    """
    def where(rep_col: str, extra: str = "") -> tuple[str, Sql]:
        # SQLite: ``+org_id`` keeps the planner off the (org_id, version) index, which would visit every
        # row of the org; the rep/owner (or account) and time indexes narrow to the chunk's rows.
        org = "+org_id" if sqlite and not rep_col.startswith("COALESCE") else "org_id"
        cond = f"{org} = ? AND deleted_at IS NULL AND {rep_col} IS NOT NULL{extra}"
        args: list[Any] = [org_id]
        if reps is not None:
            r = in_list(rep_col, reps, sqlite)
            cond, args = f"{cond} AND {r.text}", args + r.args
            return rep_col, Sql(cond, args)
        return "'all'", Sql(cond, args)

    branches: list[Sql] = []
    if accounts is not None:
        acc_cond = f" AND account_id IN ({accounts.text})"
        k, w = where("rep_id", acc_cond)
        w.args += accounts.args
    else:
        k, w = where("rep_id")
    branches.append(_activities(k, w, lo, hi, tz, sqlite))

    def simple(table: str, rep_col: str, ts: str, cols: dict[str, str], extra: str = "",
               extra_args: Sequence[Any] = ()) -> None:
        kk, ww = where(rep_col, f" AND {ts} IS NOT NULL{extra}")
        ww.args += list(extra_args)
        branches.append(_branch(f"{kk} AS k, {{day}} AS day, {_zeros(cols)}", table, ts, ww, lo, hi, tz,
                                sqlite))

    opp_extra, opp_args = "", []
    if accounts is not None:
        opp_extra, opp_args = f" AND account_id IN ({accounts.text})", accounts.args
    if accounts is None or territory is not None:
        lead_extra, lead_args = ("", []) if territory is None else (" AND territory_id = ?", [territory])
        simple("leads", "owner_id", "created_at", {"leads_created": "1"}, lead_extra, lead_args)
        simple("leads", "owner_id", "converted_at", {"leads_converted": "1"}, lead_extra, lead_args)
    simple("opportunities", "owner_id", "created_at", {"opps_created": "1"}, opp_extra, opp_args)
    simple("opportunities", "owner_id", "closed_at",
           {"opps_won": "1", "opps_won_cents": _cents("amount", sqlite)},
           " AND stage = 'closed_won'" + opp_extra, opp_args)
    simple("opportunities", "owner_id", "closed_at",
           {"opps_lost": "1", "opps_lost_cents": _cents("amount", sqlite)},
           " AND stage = 'closed_lost'" + opp_extra, opp_args)
    if accounts is None:
        simple("appointments", "COALESCE(created_by_id, assignee_id)", "created_at", {"appointments_set": "1"})
    else:
        simple("appointments", "COALESCE(created_by_id, assignee_id)", "created_at", {"appointments_set": "1"},
               opp_extra, opp_args)
    sums = ", ".join(f"SUM({m}) AS {m}" for m in MEASURES)
    union = " UNION ALL ".join(f"SELECT * FROM ({b.text}) s{i}" for i, b in enumerate(branches))
    args = [a for b in branches for a in b.args]
    return Sql(f"SELECT k, day, {sums} FROM ({union}) u GROUP BY k, day", args)
