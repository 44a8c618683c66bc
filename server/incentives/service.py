"""Contest definitions: create and edit drafts, publish, cancel, read (managers and admins write).

Participants are resolved once, at publish, into ``contest_participants``: a rep
who leaves a team (or region) mid-contest stays a participant and keeps their
entry, and a rep who joins later is not added; the contest measures the people
it was published for. A manager may only name people in their team.

Publishing writes the participants and the contest's new status through
``server.common.records`` (a new version, so every participant's phone gets the
contest on its next pull; the write pokes connected phones: a contest row has
no single owner, so the poke goes to the org and each phone's pull filters by
scope) and queues a push to every participant's devices (``notify_users``) in
the same transaction.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec

from server.access.scope import Scope
from server.common.errors import Conflict, Forbidden, Invalid
from server.common.records import get_visible, insert_record, list_page, update_record
from server.common.schemas import patch_fields
from server.common.time import utcnow
from server.db.bulk import insert_rows
from server.db.direct import fetch, in_lists
from server.db.ids import new_id
from server.incentives import lifecycle
from server.incentives.leaderboard import participants_of
from server.incentives.rules import (
    ContestRules,
    Participants,
    check_rules,
    check_window,
    decode_rules,
    encode_rules,
)
from server.incentives.schemas import (
    Adjustment,
    ContestIn,
    ContestPatch,
    Leaderboard,
    entry_out,
)
from server.incentives.tables import Contest, ContestAdjustment, LeaderboardEntry
from server.notify.service import notify_users

SORTS = {"-starts_at": "starts_at", "starts_at": "starts_at", "-updated_at": "updated_at", "name": "name"}
RULE_FIELDS = tuple(ContestRules.__struct_fields__)
#: Statuses a contest may be cancelled from.
CANCELLABLE = ("draft", "scheduled", "running", "closing")


def _require_writer(scope: Scope) -> None:
    if not (scope.principal.is_admin or scope.principal.is_manager):
        raise Forbidden("only managers and admins run contests")


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


async def resolve_participants(scope: Scope, p: Participants) -> list[uuid.UUID]:
    """The live users the rule names now (sorted); unknown ids are 422s, an empty result too."""
    org = scope.org_id
    found: set[uuid.UUID] = set()
    if p.user_ids:
        wanted = sorted(set(p.user_ids))
        known: set[uuid.UUID] = set()
        for cond, args in in_lists("id", wanted):
            known |= {uuid.UUID(r[0]) for r in await fetch(
                f"SELECT CAST(id AS TEXT) FROM users WHERE org_id = ? AND deleted_at IS NULL AND active = ? "
                f"AND {cond}", [org, True, *args])}
        missing = [u for u in wanted if u not in known]
        if missing:
            raise Invalid(f"no such active user: {missing[0]}", code="unknown_user", field="participants.user_ids")
        found |= known
    if p.team_ids:
        wanted = sorted(set(p.team_ids))
        teams: set[uuid.UUID] = set()
        for cond, args in in_lists("id", wanted):
            teams |= {uuid.UUID(r[0]) for r in await fetch(
                f"SELECT CAST(id AS TEXT) FROM teams WHERE org_id = ? AND deleted_at IS NULL AND {cond}",
                [org, *args])}
        missing = [t for t in wanted if t not in teams]
        if missing:
            raise Invalid(f"no such team: {missing[0]}", code="unknown_team", field="participants.team_ids")
        for cond, args in in_lists("m.team_id", wanted):
            found |= {uuid.UUID(r[0]) for r in await fetch(
                "SELECT CAST(m.user_id AS TEXT) FROM team_memberships m JOIN users u ON u.id = m.user_id "
                f"WHERE m.org_id = ? AND m.valid_to IS NULL AND u.deleted_at IS NULL AND u.active = ? AND {cond}",
                [org, True, *args])}
    if p.region_id:
        if not await fetch("SELECT 1 FROM regions WHERE org_id = ? AND id = ? AND deleted_at IS NULL",
                           [org, p.region_id]):
            raise Invalid("no such region", code="unknown_region", field="participants.region_id")
        found |= {uuid.UUID(r[0]) for r in await fetch(
            "SELECT DISTINCT CAST(m.user_id AS TEXT) FROM team_memberships m "
            "JOIN teams t ON t.id = m.team_id AND t.deleted_at IS NULL "
            "JOIN users u ON u.id = m.user_id AND u.deleted_at IS NULL AND u.active = ? AND u.role = 'rep' "
            "WHERE m.org_id = ? AND m.valid_to IS NULL AND t.region_id = ?", [True, org, p.region_id])}
    if not found:
        raise Invalid("the participants resolve to nobody", code="no_participants", field="participants")
    if scope.members is not None:
        outside = sorted(found - scope.members)
        if outside:
            raise Invalid(f"user {outside[0]} is not in your team", code="participant_out_of_scope",
                          field="participants")
    return sorted(found)


def _rules_of(values: dict) -> ContestRules:
    return msgspec.convert({k: values[k] for k in RULE_FIELDS}, ContestRules, from_attributes=True)


async def _validated(scope: Scope, values: dict) -> ContestRules:
    check_window(values["starts_at"], values["ends_at"])
    rules = _rules_of(values)
    check_rules(rules)
    await resolve_participants(scope, rules.participants)
    return rules


async def create_contest(scope: Scope, data: ContestIn) -> dict:
    _require_writer(scope)
    values = {f: getattr(data, f) for f in data.__struct_fields__}
    values["starts_at"], values["ends_at"] = _utc(data.starts_at), _utc(data.ends_at)
    rules = await _validated(scope, values)
    return await insert_record(Contest, scope.org_id, {
        "name": data.name, "description": data.description, "status": "draft",
        "starts_at": values["starts_at"], "ends_at": values["ends_at"], "visibility": data.visibility,
        "created_by_id": scope.principal.user_id, "rules": encode_rules(rules)}, record_id=data.id)


async def get_contest(scope: Scope, contest_id: uuid.UUID) -> dict:
    return await get_visible(Contest, scope.contests(), contest_id, "contest")


async def _editable(scope: Scope, contest_id: uuid.UUID) -> dict:
    row = await get_contest(scope, contest_id)
    _require_writer(scope)
    return row


async def update_contest(scope: Scope, contest_id: uuid.UUID, patch: ContestPatch,
                         expected_version: int | None = None) -> dict:
    row = await _editable(scope, contest_id)
    if row["status"] != "draft":
        raise Conflict("only a draft can be edited; cancel it and create another", code="not_draft")
    fields = patch_fields(patch)
    for key in ("starts_at", "ends_at"):
        if key in fields:
            fields[key] = _utc(fields[key])
    stored = msgspec.structs.asdict(decode_rules(row["rules"]))
    merged = {**row, **stored, **fields}
    rules = await _validated(scope, merged)
    changes = {k: v for k, v in fields.items() if k not in RULE_FIELDS}
    if any(k in RULE_FIELDS for k in fields):
        changes["rules"] = encode_rules(rules)
    return await update_record(Contest, row, changes, expected_version)


async def publish_contest(scope: Scope, contest_id: uuid.UUID, now: datetime | None = None) -> dict:
    """Draft -> scheduled (or straight on, if its start has passed): participants fixed, phones told."""
    now = now or utcnow()
    row = await _editable(scope, contest_id)
    if row["status"] != "draft":
        raise Conflict(f"the contest is {row['status']}, not a draft", code="not_draft")
    if row["ends_at"] <= now:
        raise Invalid("the contest's window is over", code="window_passed", field="ends_at")
    rules = decode_rules(row["rules"])
    people = await resolve_participants(scope, rules.participants)
    await insert_rows("contest_participants", ("id", "org_id", "contest_id", "user_id"),
                      [(new_id(), scope.org_id, contest_id, u) for u in people])
    row = await update_record(Contest, row, {"status": "scheduled"})
    starts = row["starts_at"]
    await notify_users(scope.org_id, people, title=f"New contest: {row['name']}",
                       body=f"Starts {starts:%Y-%m-%d %H:%M} UTC. Open the app for the rules.",
                       data={"contest_id": str(contest_id), "kind": "published"},
                       collapse_key=f"contest-{contest_id}")
    if starts <= now:
        await lifecycle.advance(contest_id, now)
        row = await get_contest(scope, contest_id)
    return row


async def cancel_contest(scope: Scope, contest_id: uuid.UUID) -> dict:
    row = await _editable(scope, contest_id)
    if row["status"] not in CANCELLABLE:
        raise Conflict(f"a {row['status']} contest cannot be cancelled", code="not_cancellable")
    return await update_record(Contest, row, {"status": "cancelled"})


async def list_contests(scope: Scope, *, status: str | None = None, sort: str = "-starts_at",
                        limit: int | None = None, cursor: str | None = None):
    cond = scope.contests()
    if status is not None:
        cond = cond & (Contest.status == status)
    return await list_page(Contest, cond, sorts=SORTS, sort=sort, limit=limit, cursor=cursor)


async def leaderboard(scope: Scope, contest_id: uuid.UUID) -> Leaderboard:
    """The rows the caller may see (``top3``: reps get the top three and their own), best first."""
    contest = await get_contest(scope, contest_id)
    rows = await LeaderboardEntry.select().where(
        scope.leaderboard_entries() & (LeaderboardEntry.contest_id == contest_id)
        & LeaderboardEntry.deleted_at.is_null())
    entries = sorted((entry_out(r) for r in rows),
                     key=lambda e: (e.rank is None, e.rank or 0, -e.score, str(e.user_id)))
    adjustments: list[Adjustment] = []
    if contest["status"] == "finished" and (scope.principal.is_admin or scope.principal.is_manager):
        for a in await ContestAdjustment.select().where(ContestAdjustment.contest_id == contest_id) \
                .order_by(ContestAdjustment.created_at):
            ids = a["activity_ids"]
            adjustments.append(Adjustment(
                user_id=a["user_id"], metric=a["metric"], delta=a["delta"], created_at=a["created_at"],
                activity_ids=msgspec.json.decode(ids) if isinstance(ids, (str, bytes)) else ids))
    return Leaderboard(contest_id=contest_id, status=contest["status"], final=contest["status"] == "finished",
                       entries=entries, adjustments=adjustments)


async def participant_ids(contest_id: uuid.UUID) -> list[uuid.UUID]:
    return await participants_of(contest_id)
