"""Incremental, idempotent rollup of the source tables into ``rep_day_metrics``.

A run, per organisation:

1. reads the highest committed ``version`` of each source (activities, leads,
   opportunities, appointments) and its watermark; versions are commit-ordered
   per org (``server.db.clock``), so every row at or below that high mark is
   visible and ``version > watermark`` never misses one;
2. finds, per rep, the span of local days touched by rows changed since the
   watermark, soft-deleted rows included (so a deleted activity leaves the
   count): activities by ``occurred_at`` (immutable, so the old day is the new
   one), leads/opportunities by created/converted/closed times, appointments by
   creation; a late-synced activity has a new version but an old
   ``occurred_at``, so its own day is recomputed;
3. RECOMPUTES those (rep, day) cells entirely from the sources: one
   ``DELETE`` + ``INSERT ... SELECT ... GROUP BY`` per chunk of reps, the
   database does the work, nothing is looped over in Python;
4. advances the watermarks in the same transaction as the last chunk.

Each chunk commits on its own: a run killed midway leaves recomputed (correct)
cells and the old watermarks, so the next run recomputes the same cells again
and ends with the same rows. Running twice recomputes to identical rows. A
rebuild is the same run from watermark 0.

A lead, deal or appointment given to another rep leaves its old owner's cells,
and the row does not say who that was: for the days such changed rows touch,
every rep credited with a pipeline measure on them is recomputed too.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from server.db import direct
from server.db.engine import is_sqlite
from server.db.tx import unit_of_work
from server.metrics.days import day_start, local_day, parse_ts, zone
from server.metrics.definitions import MEASURES
from server.metrics.sql import in_list, measure_rows

#: (source table, rep column, timestamp columns whose local day a change touches)
SOURCES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("activities", "rep_id", ("occurred_at",)),
    ("leads", "owner_id", ("created_at", "converted_at")),
    ("opportunities", "owner_id", ("created_at", "closed_at")),
    ("appointments", "COALESCE(created_by_id, assignee_id)", ("created_at",)),
)
#: Measures each pipeline source feeds: a rep with any of them on a touched day may be a former owner.
CREDITED = {
    "leads": ("leads_created", "leads_converted"),
    "opportunities": ("opps_created", "opps_won", "opps_lost"),
    "appointments": ("appointments_set",),
}
#: Changed pipeline rows whose days are listed one by one; past this a day range is used instead.
MAX_LISTED_ROWS = 2_000
#: Rep-days recomputed per transaction: bounds the statement's work and the write lock's hold.
MAX_CELLS = 10_000


@dataclass
class RollupResult:
    org_id: uuid.UUID
    #: Source rows changed since the watermarks, per source.
    changed: dict[str, int] = field(default_factory=dict)
    #: Rep-days recomputed (including those that turned out empty).
    cells: int = 0
    chunks: int = 0

    @property
    def activities(self) -> int:
        return self.changed.get("activities", 0)


def _day_arg(d: date, sqlite: bool):
    return d.isoformat() if sqlite else d


async def org_zone(org_id: uuid.UUID):
    """The org's time zone (UTC when unset): its days are the metrics' days."""
    rows = await direct.fetch("SELECT timezone FROM organisations WHERE id = ?", [org_id])
    return zone(rows[0][0] if rows else None)


async def _marks(org_id: uuid.UUID) -> dict[str, int]:
    rows = await direct.fetch("SELECT source, last_version FROM metric_watermarks WHERE org_id = ?", [org_id])
    return {s: int(v) for s, v in rows}


async def _touched(org_id: uuid.UUID, tz, marks: dict[str, int], result: RollupResult
                   ) -> tuple[dict[str, int], dict[str, tuple[date, date]]]:
    """New high marks per source and, per rep, the span of local days to recompute."""
    highs: dict[str, int] = {}
    spans: dict[str, tuple[date, date]] = {}
    for table, rep_col, stamps in SOURCES:
        low = marks.get(table, 0)
        (high,), = await direct.fetch(f"SELECT MAX(version) FROM {table} WHERE org_id = ?", [org_id])
        high = int(high or 0)
        highs[table] = max(high, low)
        if high <= low:
            result.changed[table] = 0
            continue
        (n,), = await direct.fetch(
            f"SELECT COUNT(*) FROM {table} WHERE org_id = ? AND version > ? AND version <= ?",
            [org_id, low, high])
        result.changed[table] = int(n)
        for ts in stamps:
            rows = await direct.fetch(
                f"SELECT CAST({rep_col} AS TEXT), MIN({ts}), MAX({ts}) FROM {table} "
                f"WHERE org_id = ? AND version > ? AND version <= ? AND {ts} IS NOT NULL "
                f"AND {rep_col} IS NOT NULL GROUP BY {rep_col}", [org_id, low, high])
            for rep, first, last in rows:
                _widen(spans, rep, local_day(parse_ts(first), tz), local_day(parse_ts(last), tz))
        if low > 0 and table in CREDITED:
            await _former_owners(org_id, tz, table, stamps, low, high, spans)
    return highs, spans


def _widen(spans: dict[str, tuple[date, date]], rep: str, lo: date, hi: date) -> None:
    if rep in spans:
        lo, hi = min(lo, spans[rep][0]), max(hi, spans[rep][1])
    spans[rep] = (lo, hi)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


async def _former_owners(org_id: uuid.UUID, tz, table: str, stamps: tuple[str, ...], low: int, high: int,
                         spans: dict[str, tuple[date, date]]) -> None:
    """Add the reps credited on the days of changed pipeline rows: a lead or deal given to another
    rep leaves its old owner's cells, and the row does not say who that was."""
    sqlite = is_sqlite()
    rows = await direct.fetch(
        f"SELECT {', '.join(stamps)} FROM {table} WHERE org_id = ? AND version > ? AND version <= ? LIMIT ?",
        [org_id, low, high, MAX_LISTED_ROWS + 1])
    days = sorted({local_day(parse_ts(v), tz) for r in rows for v in r if v is not None})
    if not days:
        return
    credited = " OR ".join(f"{m} > 0" for m in CREDITED[table])
    if len(rows) > MAX_LISTED_ROWS:  # a big change: every credited rep over the whole range it spans
        bounds = [b for ts in stamps for b in (await direct.fetch(
            f"SELECT MIN({ts}), MAX({ts}) FROM {table} WHERE org_id = ? AND version > ? AND version <= ?",
            [org_id, low, high]))[0] if b is not None]
        first, last = (local_day(parse_ts(b), tz) for b in (min(bounds, key=parse_ts), max(bounds, key=parse_ts)))
        text, args = "day >= ? AND day <= ?", [_day_arg(first, sqlite), _day_arg(last, sqlite)]
    else:
        listed = in_list("day", [_day_arg(d, sqlite) for d in days], sqlite)
        text, args = listed.text, listed.args
    found = await direct.fetch(
        f"SELECT CAST(rep_id AS TEXT), MIN(day), MAX(day) FROM rep_day_metrics WHERE org_id = ? AND {text} "
        f"AND ({credited}) GROUP BY rep_id", [org_id, *args])
    for rep, first, last in found:
        _widen(spans, rep, _as_date(first), _as_date(last))


def plan_chunks(spans: dict[str, tuple[date, date]], max_cells: int = MAX_CELLS
                ) -> list[tuple[list[str], date, date]]:
    """Group reps with similar day spans; a chunk recomputes every rep x every day of its span.

    A chunk is closed when it would exceed ``max_cells`` or when widening it
    would recompute much more than its reps' own spans (a rep with a week-late
    activity next to reps touched only today), so the work stays close to the
    cells actually touched.
    """
    chunks: list[tuple[list[str], date, date]] = []
    reps: list[str] = []
    lo = hi = None
    own = 0  # the reps' own spans, in days
    for rep, (a, b) in sorted(spans.items(), key=lambda kv: (kv[1], kv[0])):
        days = (b - a).days + 1
        if reps:
            nlo, nhi = min(lo, a), max(hi, b)
            cost = (len(reps) + 1) * ((nhi - nlo).days + 1)
            if cost > max_cells or (cost > 64 and cost > 1.25 * (own + days)):
                chunks.append((reps, lo, hi))
                reps = []
        if not reps:
            reps, lo, hi, own = [rep], a, b, days
        else:
            reps.append(rep)
            lo, hi, own = min(lo, a), max(hi, b), own + days
    if reps:
        chunks.append((reps, lo, hi))
    return chunks


async def _recompute(org_id: uuid.UUID, tz, reps: list[str], lo: date, hi: date) -> None:
    sqlite = is_sqlite()
    rep_ids = [uuid.UUID(r) for r in reps]
    cond = in_list("rep_id", rep_ids, sqlite)
    await direct.execute(
        f"DELETE FROM rep_day_metrics WHERE org_id = ? AND {cond.text} AND day >= ? AND day <= ?",
        [org_id, *cond.args, _day_arg(lo, sqlite), _day_arg(hi, sqlite)])
    rows = measure_rows(org_id, tz, day_start(lo, tz), day_start(hi + timedelta(days=1), tz), sqlite,
                        reps=rep_ids)
    cols = ", ".join(MEASURES)
    org = "?" if sqlite else "CAST(? AS UUID)"
    await direct.execute(
        f"INSERT INTO rep_day_metrics (org_id, rep_id, day, {cols}) "
        f"SELECT {org}, k, day, {cols} FROM ({rows.text}) m WHERE day >= ? AND day <= ?",
        [org_id, *rows.args, _day_arg(lo, sqlite), _day_arg(hi, sqlite)])


async def _save_marks(org_id: uuid.UUID, highs: dict[str, int]) -> None:
    await direct.execute_many(
        "INSERT INTO metric_watermarks (org_id, source, last_version) VALUES (?, ?, ?) "
        # Never backwards: a run that started earlier (a rebuild beside the job) may finish later.
        "ON CONFLICT (org_id, source) DO UPDATE SET last_version = CASE WHEN excluded.last_version > "
        "metric_watermarks.last_version THEN excluded.last_version ELSE metric_watermarks.last_version END",
        [(org_id, source, version) for source, version in highs.items()])


AfterChunk = Callable[[int], Awaitable[None]]


async def roll_up_org(org_id: uuid.UUID, *, from_scratch: bool = False, max_cells: int = MAX_CELLS,
                      after_chunk: AfterChunk | None = None) -> RollupResult:
    """Bring ``org_id``'s metrics up to date with everything committed; one transaction per chunk.

    ``from_scratch`` drops the org's rows and ignores the stored watermarks (read
    in the same transaction, so a concurrent run that saves its marks meanwhile
    cannot make this one skip work).
    """
    result = RollupResult(org_id)
    async with unit_of_work():
        tz = await org_zone(org_id)
        if from_scratch:
            await direct.execute("DELETE FROM rep_day_metrics WHERE org_id = ?", [org_id])
        marks = {} if from_scratch else await _marks(org_id)
        highs, spans = await _touched(org_id, tz, marks, result)
    if highs == {s: marks.get(s, 0) for s in highs}:
        return result
    chunks = plan_chunks(spans, max_cells)
    for i, (reps, lo, hi) in enumerate(chunks):
        async with unit_of_work():
            await _recompute(org_id, tz, reps, lo, hi)
            if i == len(chunks) - 1:
                await _save_marks(org_id, highs)
        result.chunks += 1
        result.cells += len(reps) * ((hi - lo).days + 1)
        if after_chunk is not None:
            await after_chunk(i)
    if not chunks:  # changed rows that credit nobody (no owner): only the marks move
        async with unit_of_work():
            await _save_marks(org_id, highs)
    return result
