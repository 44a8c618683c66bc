"""The demo organisation comes with this month's contest, running, its leaderboard computed."""

from __future__ import annotations

from server.common.time import utcnow
from server.demo import load_demo
from server.incentives.tables import Contest, ContestParticipant, LeaderboardEntry
from server.users.tables import User


async def test_the_demo_has_a_running_contest_with_a_leaderboard(db):
    summary = await load_demo(reps=4, accounts=120, days=30, seed=5, today=utcnow().date())
    [contest] = await Contest.select().where(Contest.org_id == summary.org_id)
    assert contest["status"] == "running"
    assert contest["starts_at"] <= utcnow() < contest["ends_at"]
    reps = {r["id"] for r in await User.select(User.id).where(
        (User.org_id == summary.org_id) & (User.role == "rep"))}
    participants = {r["user_id"] for r in await ContestParticipant.select(ContestParticipant.user_id).where(
        ContestParticipant.contest_id == contest["id"])}
    assert participants == reps
    entries = await LeaderboardEntry.select().where(LeaderboardEntry.contest_id == contest["id"])
    assert {e["user_id"] for e in entries} == reps
    if utcnow().day > 3:  # a few days of generated activity into the month: someone has a rank
        assert any(e["rank"] == 1 for e in entries)
