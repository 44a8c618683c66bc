"""Builders for contest tests: a field of reps, contests published with a controlled clock, activity."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from server.accounts.tables import Account
from server.common.records import insert_record
from server.db.direct import execute
from server.db.tx import unit_of_work
from server.incentives import service
from server.incentives.rules import MetricLine, Participants, Prize
from server.incentives.schemas import ContestIn
from server.incentives.tables import LeaderboardEntry
from server.orgs.service import create_org
from server.pipeline.tables import Opportunity
from tests.activity_builders import give_territory, make_activity, scope_of
from tests.builders import Person, make_user

#: A fixed contest window (UTC), far from the real clock: services get ``now`` explicitly.
START = datetime(2026, 6, 1, tzinfo=UTC)
END = START + timedelta(days=7)


@dataclass
class Field:
    org_id: uuid.UUID
    admin: Person
    manager: Person
    reps: list[Person]


async def make_field(n: int = 3, timezone: str = "UTC") -> Field:
    async with unit_of_work():
        org = await create_org(f"Contest org {uuid.uuid4().hex[:8]}", timezone=timezone)
    admin = await make_user(org, "admin")
    manager = await make_user(org, "manager", manager=admin)
    reps = [await make_user(org, "rep", manager=manager) for _ in range(n)]
    return Field(org, admin, manager, reps)


async def set_grace(org_id: uuid.UUID, hours: int) -> None:
    async with unit_of_work():
        await execute("UPDATE organisations SET contest_grace_hours = ? WHERE id = ?", [hours, org_id])


def contest_in(people: list[Person] | None = None, *, metrics: list[dict] | None = None,
               starts: datetime = START, ends: datetime = END, **extra) -> ContestIn:
    lines = [MetricLine(**m) for m in (metrics or [{"metric": "visits"}])]
    participants = extra.pop("participants", None) or Participants(user_ids=[p.id for p in people or []])
    prizes = [Prize(**p) for p in extra.pop("prizes", [])]
    return ContestIn(name=extra.pop("name", "Summer blitz"), starts_at=starts, ends_at=ends,
                     participants=participants, metrics=lines, prizes=prizes, **extra)


async def publish(by: Person, data: ContestIn, now: datetime | None = None) -> dict:
    """Create and publish as ``by``; ``now`` defaults to an hour before the start."""
    scope = await scope_of(by)
    async with unit_of_work():
        row = await service.create_contest(scope, data)
    async with unit_of_work():
        return await service.publish_contest(scope, row["id"], now=now or data.starts_at - timedelta(hours=1))


async def act(rep: Person, at: datetime, type: str = "visit", n: int = 1, **fields) -> list[dict]:
    return [await make_activity(rep, occurred_at=at, type=type, **fields) for _ in range(n)]


async def entries(contest_id: uuid.UUID) -> dict[uuid.UUID, dict]:
    rows = await LeaderboardEntry.select().where(LeaderboardEntry.contest_id == contest_id)
    return {r["user_id"]: r for r in rows}


async def scores(contest_id: uuid.UUID) -> dict[uuid.UUID, tuple[float, int | None]]:
    return {u: (r["score"], r["rank"]) for u, r in (await entries(contest_id)).items()}


async def account_with_potential(rep: Person, potential: str) -> uuid.UUID:
    async with unit_of_work():
        row = await insert_record(Account, rep.org_id, {"name": f"Acct {uuid.uuid4().hex[:6]}",
                                                        "owner_id": rep.id, "potential": Decimal(potential)})
    return row["id"]


async def territory_with_potential(rep: Person, *potentials: str) -> uuid.UUID:
    accounts = [await account_with_potential(rep, p) for p in potentials]
    return await give_territory(rep, *accounts)


async def closed_opportunity(rep: Person, stage: str, at: datetime, amount: str = "1000") -> dict:
    account = await account_with_potential(rep, "0")
    async with unit_of_work():
        return await insert_record(Opportunity, rep.org_id, {
            "account_id": account, "owner_id": rep.id, "name": "Deal", "stage": stage,
            "amount": Decimal(amount), "closed_at": at})
