"""The set-based reads behind a leaderboard: one grouped query per source, whatever the field size.

Windows are UTC instants, half-open ``[starts_at, ends_at)``: an activity at
exactly ``ends_at`` belongs to the next period, so back-to-back contests (or a
window and its baseline) never count one activity twice, whatever daylight-saving
change the org's local time goes through. Activity is counted by ``occurred_at``
(when it happened), so activity synced late still lands in its window.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from server.db.direct import fetch, in_lists
from server.db.engine import is_sqlite
from server.incentives.rules import (
    ACTIVITY_METRICS,
    ELIGIBILITY_TYPES,
    RATIO_METRICS,
    ContestRules,
)
from server.incentives.scoring import Measured

VERIFIED = " AND verification = 'verified'"


def _count(cond: str) -> str:
    return f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END)"


def activity_conditions(rules: ContestRules) -> dict[str, str]:
    """metric -> SQL condition for the activity metrics the rules use (and ``_n``: eligibility)."""
    v = VERIFIED if rules.verified_only else ""
    wanted = {line.metric for line in rules.metrics}
    out = {m: cond.format(v=v) for m, cond in ACTIVITY_METRICS.items() if m in wanted}
    plain = ", ".join(f"'{t}'" for t in ELIGIBILITY_TYPES if t not in ("visit", "call"))
    out["_n"] = f"(type IN ({plain}) OR (type IN ('visit', 'call'){v}))"
    return out


async def measure(org_id: uuid.UUID, user_ids: Sequence[uuid.UUID], rules: ContestRules,
                  starts_at: datetime, ends_at: datetime) -> dict[uuid.UUID, Measured]:
    """Every participant's values in ``[starts_at, ends_at)`` (and the baseline period for ``improvement``)."""
    out = {u: Measured() for u in user_ids}
    if not user_ids:
        return out
    lo = starts_at - (ends_at - starts_at) if rules.scoring == "improvement" else starts_at
    wanted = {line.metric for line in rules.metrics}

    def put(user: str, current: int, metric: str, value) -> None:
        m = out.get(uuid.UUID(user))
        if m is None:
            return
        target = m.values if current else m.baseline
        target[metric] = target.get(metric, 0.0) + float(value or 0)

    conds = activity_conditions(rules)
    names = list(conds)
    sums = ", ".join(_count(c) for c in conds.values())
    # SQLite (without ANALYZE statistics) would pick the (org_id, version) index and read the whole
    # org; a unary plus on org_id steers it to (rep_id, occurred_at), the index this query needs.
    org_col = "+org_id" if is_sqlite() else "org_id"
    for cond, args in in_lists("rep_id", list(user_ids)):
        rows = await fetch(
            f"SELECT CAST(rep_id AS TEXT), CASE WHEN occurred_at >= ? THEN 1 ELSE 0 END, {sums} "
            f"FROM activities WHERE {org_col} = ? AND deleted_at IS NULL AND occurred_at >= ? AND occurred_at < ? "
            f"AND {cond} GROUP BY 1, 2", [starts_at, org_id, lo, ends_at, *args])
        for user, current, *values in rows:
            for name, value in zip(names, values, strict=True):
                if name == "_n":
                    if current:
                        out[uuid.UUID(user)].activities += int(value or 0)
                else:
                    put(user, current, name, value)

    async def source(table: str, person: str, ts: str, measures: dict[str, str], extra: str = "") -> None:
        cols = ", ".join(measures.values())
        for cond, args in in_lists(person, list(user_ids)):
            rows = await fetch(
                f"SELECT CAST({person} AS TEXT), CASE WHEN {ts} >= ? THEN 1 ELSE 0 END, {cols} FROM {table} "
                f"WHERE org_id = ? AND deleted_at IS NULL AND {ts} >= ? AND {ts} < ? AND {cond}{extra} "
                "GROUP BY 1, 2", [starts_at, org_id, lo, ends_at, *args])
            for user, current, *values in rows:
                for name, value in zip(measures, values, strict=True):
                    put(user, current, name, value)

    if "leads_created" in wanted:
        await source("leads", "owner_id", "created_at", {"leads_created": "COUNT(*)"})
    if "leads_converted" in wanted:
        await source("leads", "owner_id", "converted_at", {"leads_converted": "COUNT(*)"})
    if "appointments_set" in wanted:
        # Who set it: its creator, else its assignee (as in the metrics rollup).
        await source("appointments", "COALESCE(created_by_id, assignee_id)", "created_at",
                     {"appointments_set": "COUNT(*)"})
    if wanted & {"opps_won", "opps_won_amount", *RATIO_METRICS}:
        await source("opportunities", "owner_id", "closed_at", {
            "opps_won": _count("stage = 'closed_won'"),
            "opps_won_amount": "SUM(CASE WHEN stage = 'closed_won' THEN amount ELSE 0 END)",
            "_closed": "COUNT(*)",
        }, " AND stage IN ('closed_won', 'closed_lost')")
        for m in out.values():
            for values in (m.values, m.baseline):
                closed = values.pop("_closed", 0.0)
                if "win_rate" in wanted:
                    if values is m.values:
                        m.ratios["win_rate"] = (values.get("opps_won", 0.0), closed)
                    else:
                        values["win_rate"] = values.get("opps_won", 0.0) / closed if closed else 0.0
    if rules.scoring == "per_potential":
        for user, potential in (await territory_potential(org_id, user_ids)).items():
            out[user].potential = potential
    return out


async def territory_potential(org_id: uuid.UUID, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, float]:
    """Yearly potential of the accounts now in each user's primary territories (one grouped query)."""
    out: dict[uuid.UUID, float] = {}
    for cond, args in in_lists("o.user_id", list(user_ids)):
        rows = await fetch(
            "SELECT CAST(o.user_id AS TEXT), SUM(a.potential) FROM territory_owners o "
            "JOIN territory_accounts ta ON ta.territory_id = o.territory_id AND ta.valid_to IS NULL "
            "JOIN accounts a ON a.id = ta.account_id AND a.deleted_at IS NULL "
            f"WHERE o.org_id = ? AND o.valid_to IS NULL AND o.role = 'primary' AND {cond} GROUP BY 1",
            [org_id, *args])
        out.update({uuid.UUID(u): float(p or 0) for u, p in rows})
    return out


async def activity_ids_since(org_id: uuid.UUID, user_id: uuid.UUID, starts_at: datetime, ends_at: datetime,
                             version: int) -> list[str]:
    """The user's activities in the window written after ``version`` (deleted ones too)."""
    rows = await fetch(
        "SELECT CAST(id AS TEXT) FROM activities WHERE org_id = ? AND rep_id = ? AND occurred_at >= ? "
        "AND occurred_at < ? AND version > ? ORDER BY version", [org_id, user_id, starts_at, ends_at, version])
    return [r[0] for r in rows]


async def changed_people(org_id: uuid.UUID, rules: ContestRules, since: int) -> set[uuid.UUID]:
    """People with activity (or, if the rules measure them, pipeline records) written after ``since``:
    the org-version index finds them without touching the rest of the window."""
    wanted = {line.metric for line in rules.metrics}
    parts = ["SELECT DISTINCT CAST(rep_id AS TEXT) FROM activities WHERE org_id = ? AND version > ?"]
    if wanted & {"leads_created", "leads_converted"}:
        parts.append("SELECT DISTINCT CAST(owner_id AS TEXT) FROM leads WHERE org_id = ? AND version > ?")
    if wanted & {"opps_won", "opps_won_amount", *RATIO_METRICS}:
        parts.append("SELECT DISTINCT CAST(owner_id AS TEXT) FROM opportunities WHERE org_id = ? AND version > ?")
    if "appointments_set" in wanted:
        parts.append("SELECT DISTINCT CAST(COALESCE(created_by_id, assignee_id) AS TEXT) FROM appointments "
                     "WHERE org_id = ? AND version > ?")
    rows = await fetch(" UNION ".join(parts), [x for _ in parts for x in (org_id, since)])
    return {uuid.UUID(r[0]) for r in rows if r[0]}
