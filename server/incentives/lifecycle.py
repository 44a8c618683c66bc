"""A contest's life after publishing: scheduled -> running -> closing -> finished.

``advance(contest_id, now)`` moves one contest as far as ``now`` allows, in one
transaction: running once ``starts_at`` has passed, closing once ``ends_at`` has
(activity that happened inside the window but syncs late still counts), finished
once the org's grace period (``organisations.contest_grace_hours``, 72 by
default) after ``ends_at`` is over. Finishing computes the final standings,
writes them to the leaderboard and freezes them in ``contest_results``, sets the
status and queues a push to the winners, all in that one transaction: either
the contest is finished with frozen results and notifications, or nothing
happened and the next tick tries again.

After the freeze nothing changes the results. Activity for the window that
arrives later is measured against the frozen values and recorded as a
``contest_adjustments`` row (who, which metric, by how much, which activities);
a manager decides what to do with it.

``now`` is a parameter everywhere so tests (and a catching-up job) control the clock.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import msgspec

from server.common.records import update_record
from server.common.time import utcnow
from server.db.bulk import insert_rows
from server.db.clock import current_version
from server.db.direct import execute, fetch
from server.db.ids import new_id
from server.db.tx import unit_of_work
from server.incentives import leaderboard as board
from server.incentives import queries
from server.incentives.rules import decode_rules
from server.incentives.scoring import award, winners
from server.incentives.tables import Contest, ContestAdjustment
from server.notify.service import notify_users

DEFAULT_GRACE_HOURS = 72
#: Finished contests are watched for late activity this long after their window.
ADJUSTMENT_DAYS = 30
RESULT_COLUMNS = ("id", "org_id", "contest_id", "user_id", "score", "rank", "eligible", "metric_values",
                  "prize", "as_of_version", "frozen_at")


async def grace_hours(org_id: uuid.UUID) -> int:
    rows = await fetch("SELECT contest_grace_hours FROM organisations WHERE id = ?", [org_id])
    return int(rows[0][0]) if rows and rows[0][0] is not None else DEFAULT_GRACE_HOURS


def due_status(contest: dict, now: datetime, grace: int) -> str:
    """Where a published contest belongs at ``now`` (pure)."""
    if now < contest["starts_at"]:
        return "scheduled"
    if now < contest["ends_at"]:
        return "running"
    if now < contest["ends_at"] + timedelta(hours=grace):
        return "closing"
    return "finished"


async def advance(contest_id: uuid.UUID, now: datetime | None = None) -> str | None:
    """Move one contest along; returns its status afterwards (``None``: not found)."""
    now = now or utcnow()
    async with unit_of_work():
        contest = await board.load_contest(contest_id)
        if contest is None:
            return None
        if contest["status"] not in ("scheduled", *board.LIVE_STATUSES):
            return contest["status"]
        target = due_status(contest, now, await grace_hours(contest["org_id"]))
        if target == "finished":
            await finish(contest)
            return "finished"
        if target != contest["status"]:
            contest = await update_record(Contest, contest, {"status": target})
        if target in board.LIVE_STATUSES:
            people = await board.participants_of(contest_id)
            await board.write_entries(contest, await board.standings(contest, people), people)
        return target


async def finish(contest: dict) -> None:
    """Final standings, frozen results, status ``finished`` and winners' pushes: call inside the
    caller's unit of work (``advance``), with the contest locked."""
    org_id, contest_id = contest["org_id"], contest["id"]
    rules = decode_rules(contest["rules"])
    people = await board.participants_of(contest_id)
    final = award(rules, await board.standings(contest, people, rules, full=True))
    await board.write_entries(contest, final, people, final=True)
    as_of, now = await current_version(org_id), utcnow()
    encode = msgspec.json.encode
    await insert_rows("contest_results", RESULT_COLUMNS, [
        (new_id(), org_id, contest_id, s.user_id, s.score if s.eligible else None, s.rank, s.eligible,
         encode(s.values).decode(), encode(s.prize).decode(), as_of, now) for s in final])
    await update_record(Contest, contest, {"status": "finished"})
    won = winners(rules, final)
    if won:
        await notify_users(org_id, [s.user_id for s in won], title=f"You won: {contest['name']}",
                           body="The results are final. Open the app to see the leaderboard.",
                           data={"contest_id": str(contest_id), "kind": "won"},
                           collapse_key=f"contest-{contest_id}")


async def tick(now: datetime | None = None) -> dict[str, int]:
    """Advance every scheduled, running or closing contest; one transaction each. Returns counts by status."""
    now = now or utcnow()
    async with unit_of_work():
        rows = await Contest.select(Contest.id).where(
            Contest.status.is_in(["scheduled", *board.LIVE_STATUSES]) & Contest.deleted_at.is_null()
            & (Contest.starts_at <= now)).order_by(Contest.id)
    counts: dict[str, int] = {}
    for r in rows:
        status = await advance(r["id"], now)
        if status:
            counts[status] = counts.get(status, 0) + 1
    return counts


async def record_adjustments(contest_id: uuid.UUID) -> int:
    """Compare a finished contest's window as it is now with its frozen results; record the differences
    not yet recorded. Returns how many adjustment rows were written."""
    async with unit_of_work():
        contest = await board.load_contest(contest_id)
        if contest is None or contest["status"] != "finished":
            return 0
        org_id = contest["org_id"]
        rules = decode_rules(contest["rules"])
        frozen = {uuid.UUID(u): (msgspec.json.decode(v) if isinstance(v, (str, bytes)) else v, int(a))
                  for u, v, a in await fetch(
                      "SELECT CAST(user_id AS TEXT), metric_values, as_of_version FROM contest_results "
                      "WHERE contest_id = ?", [contest_id])}
        if not frozen:
            return 0
        earlier = await ContestAdjustment.select(
            ContestAdjustment.user_id, ContestAdjustment.metric, ContestAdjustment.delta,
            ContestAdjustment.activity_ids).where(ContestAdjustment.contest_id == contest_id)
        adjusted: dict[tuple[uuid.UUID, str], float] = {}
        listed: dict[uuid.UUID, set[str]] = {}
        for e in earlier:
            key = (e["user_id"], e["metric"])
            adjusted[key] = adjusted.get(key, 0.0) + e["delta"]
            ids = e["activity_ids"]
            listed.setdefault(e["user_id"], set()).update(
                msgspec.json.decode(ids) if isinstance(ids, (str, bytes)) else ids)
        # Only people with records written since the last look can differ (one index lookup);
        # the job calls this every 30 s for a month, so an idle contest must cost next to nothing.
        progress = await fetch("SELECT as_of_version FROM contest_progress WHERE contest_id = ?", [contest_id])
        people = sorted(frozen)
        if progress:
            since = int(progress[0][0])
            if await current_version(org_id) == since:
                return 0
            changed = await queries.changed_people(org_id, rules, since)
            people = [u for u in people if u in changed]
            if not people:
                await execute("UPDATE contest_progress SET as_of_version = ? WHERE contest_id = ?",
                              [await current_version(org_id), contest_id])
                return 0
        now_standings = {s.user_id: s for s in await board.standings(contest, people, rules, full=True)}
        starts, ends = board.utc(contest["starts_at"]), board.utc(contest["ends_at"])
        out = []
        for user, (values, as_of) in frozen.items():
            if user not in now_standings:
                continue
            current = now_standings[user].values
            ids: list[str] | None = None
            for metric in [line.metric for line in rules.metrics]:
                if metric not in values or metric not in current:
                    continue  # a ratio without enough sample on either side: nothing comparable
                delta = round(current[metric] - values[metric] - adjusted.get((user, metric), 0.0), 6)
                if abs(delta) < 1e-9:
                    continue
                if ids is None:  # the activities behind it: written after the freeze, not listed before
                    ids = [i for i in await queries.activity_ids_since(org_id, user, starts, ends, as_of)
                           if i not in listed.get(user, set())]
                out.append((new_id(), org_id, contest_id, user, metric, delta, msgspec.json.encode(ids).decode(),
                            utcnow()))
        await insert_rows("contest_adjustments", ("id", "org_id", "contest_id", "user_id", "metric", "delta",
                                                  "activity_ids", "created_at"), out)
        return len(out)


async def record_adjustments_for(org_id: uuid.UUID | None = None, now: datetime | None = None) -> int:
    """:func:`record_adjustments` for contests (of one org, or all) whose window ended in the last
    ``ADJUSTMENT_DAYS``."""
    since = (now or utcnow()) - timedelta(days=ADJUSTMENT_DAYS)
    where = (Contest.status == "finished") & (Contest.ends_at >= since) & Contest.deleted_at.is_null()
    if org_id is not None:
        where = where & (Contest.org_id == org_id)
    async with unit_of_work():
        rows = await Contest.select(Contest.id).where(where).order_by(Contest.id)
    total = 0
    for r in rows:
        total += await record_adjustments(r["id"])
    return total
