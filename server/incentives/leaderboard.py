"""Leaderboards: recompute a contest's standings and write only the entries that changed.

``recompute(contest_id)`` runs one grouped query per source over the window for
all participants (``server.incentives.queries``), scores and ranks in memory
(``server.incentives.scoring``) and writes through ``server.common.records``:
new entries in one bulk insert, changed ones with ``update_records`` (one block
of versions, one poke). Unchanged entries keep their version, so phones pull
nothing for them.

Visibility ``top3``: a rep's phone holds the top three and their own entry
(``Scope.leaderboard_entries``). An entry that falls out of the top three must
leave the other reps' phones: its new version no longer matches their scope, so
the changes stream skips it; a ``sync_moves`` record naming the participants as
its former holders makes their next pull list it as ``removed``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

from server.common.records import update_records
from server.common.time import utcnow
from server.db.bulk import insert_rows
from server.db.clock import current_version, next_versions
from server.db.direct import execute, fetch, in_lists
from server.db.engine import is_sqlite
from server.db.ids import new_id
from server.db.tx import unit_of_work
from server.incentives import queries
from server.incentives.rules import ContestRules, decode_rules
from server.incentives.scoring import Measured, Standing, rank, score
from server.incentives.tables import LIVE_STATUSES, Contest, LeaderboardEntry
from server.sync import changes as sync

ENTRY_COLUMNS = ("id", "org_id", "version", "created_at", "updated_at", "deleted_at", "field_versions",
                 "contest_id", "user_id", "score", "rank", "detail")
TOP = 3


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


async def load_contest(contest_id: uuid.UUID, *, lock: bool = True) -> dict | None:
    """The contest row; with ``lock`` held until the unit ends (PostgreSQL ``FOR UPDATE``; SQLite's
    ``BEGIN IMMEDIATE`` already serialises writers), so a tick and a recompute never interleave."""
    if lock and not is_sqlite():
        await execute("SELECT id FROM contests WHERE id = ? FOR UPDATE", [contest_id])
    return await Contest.select().where((Contest.id == contest_id) & Contest.deleted_at.is_null()).first()


async def participants_of(contest_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await fetch("SELECT CAST(user_id AS TEXT) FROM contest_participants WHERE contest_id = ? "
                       "ORDER BY user_id", [contest_id])
    return [uuid.UUID(r[0]) for r in rows]


async def standings(contest: dict, participants: list[uuid.UUID] | None = None,
                    rules: ContestRules | None = None, *, full: bool = False) -> list[Standing]:
    """Scored and ranked participants. ``full``: measure the whole window again (finishing, adjustments);
    otherwise only participants with records written since the last measure are re-measured."""
    rules = rules or decode_rules(contest["rules"])
    people = participants if participants is not None else await participants_of(contest["id"])
    measured = await measure(contest, people, rules, full=full)
    return rank([score(rules, u, measured[u]) for u in people])


_tally = msgspec.json.Encoder(order="sorted")
_measured = msgspec.json.Decoder(Measured)


async def measure(contest: dict, people: list[uuid.UUID], rules: ContestRules, *,
                  full: bool = False) -> dict[uuid.UUID, Measured]:
    """Every participant's values, from the tallies where nothing changed since they were taken.

    Versions are commit-ordered, so every record at or below the version read first is
    visible to the queries that follow: a participant is re-measured when any of their
    records has a higher version than the tallies. Tallies cover the whole window; the
    rules and participants of a published contest never change.
    """
    org_id, contest_id = contest["org_id"], contest["id"]
    starts, ends = utc(contest["starts_at"]), utc(contest["ends_at"])
    now_version = await current_version(org_id)
    progress = await fetch("SELECT as_of_version FROM contest_progress WHERE contest_id = ?", [contest_id])
    tallies: dict[uuid.UUID, Measured] = {}
    if progress and not full:
        since = int(progress[0][0])
        changed = await queries.changed_people(org_id, rules, since) if now_version > since else set()
        known = {str(u): u for u in people}  # parsing 500 UUIDs per recompute costs more than the scoring
        for user, text in await fetch("SELECT CAST(user_id AS TEXT), measured FROM contest_tallies "
                                      "WHERE contest_id = ?", [contest_id]):
            tallies[known.get(user) or uuid.UUID(user)] = _measured.decode(text)
        redo = sorted(u for u in people if u in changed or u not in tallies)
    else:
        redo = list(people)
    if redo:
        fresh = await queries.measure(org_id, redo, rules, starts, ends)
        tallies.update(fresh)
        for condition, args in in_lists("user_id", redo):
            await execute(f"DELETE FROM contest_tallies WHERE contest_id = ? AND {condition}", [contest_id, *args])
        await insert_rows("contest_tallies", ("id", "org_id", "contest_id", "user_id", "measured"),
                          [(new_id(), org_id, contest_id, u, _tally.encode(fresh[u]).decode()) for u in redo])
    if rules.scoring == "per_potential" and len(redo) < len(people):
        # Potential follows territory changes, which are not activity: read it for everyone (cheap).
        potential = await queries.territory_potential(org_id, people)
        for u in people:
            tallies[u].potential = potential.get(u)
    if not progress:
        await execute("INSERT INTO contest_progress (contest_id, org_id, as_of_version) VALUES (?, ?, ?)",
                      [contest_id, org_id, now_version])
    elif int(progress[0][0]) != now_version:
        await execute("UPDATE contest_progress SET as_of_version = ? WHERE contest_id = ?", [now_version, contest_id])
    return {u: tallies[u] for u in people}


def detail_of(s: Standing, final: bool = False) -> str:
    body: dict[str, Any] = {"values": s.values, "activities": s.activities, "eligible": s.eligible}
    if s.reason:
        body["reason"] = s.reason
    if final:
        body["final"] = True
        if s.prize:
            body["prize"] = s.prize
    return msgspec.json.encode(body, order="sorted").decode()


async def write_entries(contest: dict, results: list[Standing], participants: list[uuid.UUID],
                        *, final: bool = False) -> int:
    """Insert missing entries and update changed ones; returns how many rows were written."""
    org_id, contest_id = contest["org_id"], contest["id"]
    rows = await fetch(
        "SELECT CAST(id AS TEXT), CAST(user_id AS TEXT), score, rank, detail, version, field_versions "
        "FROM leaderboard_entries WHERE contest_id = ? AND deleted_at IS NULL", [contest_id])
    existing: dict[uuid.UUID, dict] = {}
    known = {str(s.user_id): s.user_id for s in results}
    for rid, user, sc, rk, detail, version, fv in rows:
        if not isinstance(detail, str):
            detail = msgspec.json.encode(detail, order="sorted").decode()
        user_id = known.get(user) or uuid.UUID(user)
        # The entry id stays text: both drivers take it for a UUID parameter.
        existing[user_id] = {"id": rid, "org_id": org_id, "user_id": user_id, "score": sc, "rank": rk,
                             "detail": detail, "version": version, "field_versions": fv}
    fresh = [s for s in results if s.user_id not in existing]
    updates = []
    for s in results:
        row = existing.get(s.user_id)
        if row is not None:
            updates.append((row, {"score": s.score, "rank": s.rank, "detail": detail_of(s, final)}))
    written = 0
    if fresh:
        now = utcnow()
        versions = await next_versions(org_id, len(fresh))
        await insert_rows("leaderboard_entries", ENTRY_COLUMNS, [
            (new_id(), org_id, v, now, now, None, "{}", contest_id, s.user_id, s.score, s.rank, detail_of(s, final))
            for v, s in zip(versions, fresh, strict=True)])
        sync.poke(org_id, frozenset(participants) | {contest["created_by_id"]}, versions[-1])
        written += len(fresh)
    if updates:
        after = await update_records(LeaderboardEntry, org_id, updates)
        changed = [(before, a) for (before, _), a in zip(updates, after, strict=True)
                   if a["version"] != before["version"]]
        written += len(changed)
        if contest["visibility"] == "top3":
            dropped = [a for before, a in changed
                       if before["rank"] is not None and before["rank"] <= TOP
                       and (a["rank"] is None or a["rank"] > TOP)]
            if dropped:
                # Any participant may hold a top-three row: their next pull drops it if it left their scope.
                await sync.log_moves(org_id, "leaderboard_entries", [a["id"] for a in dropped],
                                     frozenset(participants), max(a["version"] for a in dropped))
    return written


async def recompute(contest_id: uuid.UUID) -> int:
    """Recompute a running or closing contest's leaderboard; returns the entries written (0 otherwise)."""
    async with unit_of_work():
        contest = await load_contest(contest_id)
        if contest is None or contest["status"] not in LIVE_STATUSES:
            return 0
        people = await participants_of(contest_id)
        return await write_entries(contest, await standings(contest, people), people)


async def live_contest_ids(org_id: uuid.UUID | None = None) -> list[uuid.UUID]:
    where = (Contest.status.is_in(list(LIVE_STATUSES))) & Contest.deleted_at.is_null()
    if org_id is not None:
        where = where & (Contest.org_id == org_id)
    async with unit_of_work():
        rows = await Contest.select(Contest.id).where(where).order_by(Contest.id)
    return [r["id"] for r in rows]


async def recompute_live(org_id: uuid.UUID | None = None) -> int:
    """Recompute every running or closing contest (of one org, or all); one transaction per contest."""
    written = 0
    for contest_id in await live_contest_ids(org_id):
        written += await recompute(contest_id)
    return written


async def recompute_for_activity_changes(org_id: uuid.UUID) -> int:
    """After a sync brought activity: refresh the org's live boards and record adjustments for
    recently finished contests (their frozen results never change)."""
    from server.incentives.lifecycle import record_adjustments_for

    written = await recompute_live(org_id)
    await record_adjustments_for(org_id)
    return written
