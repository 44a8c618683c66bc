"""The demo organisation's running contest: this month's verified visits and connected calls.

Created and published through the contest service as the demo admin, so the
first start shows what a rep's phone gets: the contest, a leaderboard
computed from the generated activity (top three and one's own row), and the
rules that count only verified visits and provider-confirmed calls.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from server.access.principal import Principal
from server.access.scope import Scope
from server.common.time import utcnow
from server.db.tx import unit_of_work
from server.incentives.leaderboard import recompute
from server.incentives.rules import MetricLine, Participants, Prize
from server.incentives.schemas import ContestIn
from server.incentives.service import create_contest, publish_contest
from server.users.tables import User


def _month(today: date) -> tuple[datetime, datetime]:
    start = datetime(today.year, today.month, 1, tzinfo=UTC)
    end = datetime(today.year + (today.month == 12), today.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


async def add_demo_contest(org_id: uuid.UUID, today: date) -> uuid.UUID | None:
    """The contest of ``today``'s month; none when that month is over (demo data generated for a past day)."""
    starts, ends = _month(today)
    if ends <= utcnow():
        return None
    admin = await User.select(User.id).where((User.org_id == org_id) & (User.role == "admin")).first()
    reps = [r["id"] for r in await User.select(User.id).where((User.org_id == org_id) & (User.role == "rep"))]
    scope = await Scope.build(Principal(user_id=admin["id"], org_id=org_id, role="admin", session_id=uuid.uuid4()))
    data = ContestIn(
        name=f"{starts:%B} field blitz",
        description="Verified visits count double; connected calls confirmed by the phone system count once.",
        starts_at=starts, ends_at=ends, visibility="top3",
        participants=Participants(user_ids=reps),
        metrics=[MetricLine(metric="verified_visits", weight=2.0), MetricLine(metric="connected_calls")],
        verified_only=True, min_activities=10,
        prizes=[Prize(kind="rank", rank=1, reward="Team dinner on the company"),
                Prize(kind="threshold", min_score=100, reward="A day off")])
    async with unit_of_work():
        contest = await create_contest(scope, data)
        await publish_contest(scope, contest["id"])
    await recompute(contest["id"])
    return contest["id"]
