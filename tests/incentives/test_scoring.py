"""Hand-computed scores for every scoring mode, verified-only, ties and eligibility (real queries)."""

from __future__ import annotations

from datetime import timedelta

from server.incentives.lifecycle import advance
from server.incentives.rules import MetricLine, Prize
from server.incentives.scoring import Measured, Standing, award, rank, score
from tests.incentives.helpers import (
    END,
    START,
    act,
    closed_opportunity,
    contest_in,
    entries,
    make_field,
    publish,
    scores,
    territory_with_potential,
)

DAY = timedelta(days=1)


async def run(field, data) -> dict:
    contest = await publish(field.manager, data)
    assert await advance(contest["id"], START + 2 * DAY) == "running"
    return contest


async def test_raw_weighted_lines(db):
    f = await make_field(2)
    a, b = f.reps
    await act(a, START + DAY, "visit", 3)
    await act(a, START + DAY, "call", 1, outcome="connected")
    await act(a, START + DAY, "call", 1, outcome="no_answer")
    await act(b, START + DAY, "visit", 1)
    await act(b, START + DAY, "call", 4)
    await act(b, START - DAY, "visit", 5)  # before the window
    await act(b, END, "visit", 5)  # at the end instant: the window is [start, end)
    c = await run(f, contest_in(f.reps, metrics=[{"metric": "visits", "weight": 2}, {"metric": "calls"}]))
    # a: 2*3 + 2 = 8; b: 2*1 + 4 = 6
    assert await scores(c["id"]) == {a.id: (8.0, 1), b.id: (6.0, 2)}


async def test_lower_is_better_line_in_raw_mode(db):
    f = await make_field(2)
    a, b = f.reps
    await act(a, START + DAY, "email", 4)
    await act(b, START + DAY, "email", 1)
    c = await run(f, contest_in(f.reps, metrics=[{"metric": "emails", "direction": "lower"}]))
    assert await scores(c["id"]) == {a.id: (-4.0, 2), b.id: (-1.0, 1)}


async def test_percent_of_target(db):
    f = await make_field(2)
    a, b = f.reps
    await act(a, START + DAY, "visit", 3)
    await act(a, START + DAY, "text", 1)
    await act(b, START + DAY, "visit", 1)
    await act(b, START + DAY, "text", 3)
    c = await run(f, contest_in(f.reps, scoring="percent_of_target", metrics=[
        {"metric": "visits", "target": 4}, {"metric": "texts", "direction": "lower", "target": 2}]))
    # a: 100*3/4 + 100*(2 - 1/2) = 75 + 150 = 225; b: 25 + 100*(2 - 3/2) = 25 + 50 = 75
    assert await scores(c["id"]) == {a.id: (225.0, 1), b.id: (75.0, 2)}


async def test_per_potential(db):
    f = await make_field(3)
    a, b, nobody = f.reps
    await territory_with_potential(a, "2000", "3000")  # 5,000 of potential
    await territory_with_potential(b, "1000")
    await act(a, START + DAY, "visit", 3)
    await act(b, START + DAY, "visit", 1)
    await act(nobody, START + DAY, "visit", 9)  # no territory: cannot be normalised
    c = await run(f, contest_in(f.reps, scoring="per_potential"))
    # visits per 1,000 of potential: a 3 / 5 = 0.6, b 1 / 1 = 1.0
    got = await scores(c["id"])
    assert got[a.id] == (0.6, 2) and got[b.id] == (1.0, 1)
    assert got[nobody.id][1] is None
    detail = (await entries(c["id"]))[nobody.id]["detail"]
    assert "no_potential" in detail


async def test_improvement_over_own_baseline(db):
    f = await make_field(2)
    a, b = f.reps
    await act(a, START - 3 * DAY, "visit", 5)  # baseline: the same length just before the window
    await act(a, START - 8 * DAY, "visit", 9)  # before the baseline: ignored
    await act(a, START + DAY, "visit", 3)
    await act(b, START + DAY, "visit", 1)
    c = await run(f, contest_in(f.reps, scoring="improvement"))
    assert await scores(c["id"]) == {a.id: (-2.0, 2), b.id: (1.0, 1)}


async def test_win_rate_needs_its_minimum_sample(db):
    f = await make_field(2)
    a, b = f.reps
    for stage in ("closed_won", "closed_won", "closed_won", "closed_lost", "closed_lost"):
        await closed_opportunity(a, stage, START + DAY)
    await closed_opportunity(b, "closed_won", START + DAY)  # "100%" from one deal
    c = await run(f, contest_in(f.reps, metrics=[{"metric": "win_rate"}]))
    got = await scores(c["id"])
    assert got[a.id] == (0.6, 1)
    assert got[b.id][1] is None


async def test_won_amount_and_count(db):
    f = await make_field(2)
    a, b = f.reps
    await closed_opportunity(a, "closed_won", START + DAY, "1500.50")
    await closed_opportunity(a, "closed_lost", START + DAY, "9000")
    await closed_opportunity(b, "closed_won", START + DAY, "700")
    await closed_opportunity(b, "closed_won", START + DAY, "700")
    c = await run(f, contest_in(f.reps, metrics=[{"metric": "opps_won_amount"}, {"metric": "opps_won", "weight": 100}]))
    assert await scores(c["id"]) == {a.id: (1600.5, 1), b.id: (1600.0, 2)}


async def test_verified_only_counts_verified_visits_and_calls(db):
    f = await make_field(2)
    a, b = f.reps
    await act(a, START + DAY, "visit", 3)  # unverified
    await act(a, START + DAY, "visit", 1, verification="verified")
    await act(a, START + DAY, "call", 2, outcome="connected")  # the rep's own word
    await act(b, START + DAY, "visit", 2, verification="verified")
    await act(b, START + DAY, "call", 1, outcome="connected", verification="verified")
    metrics = [{"metric": "visits"}, {"metric": "connected_calls"}]
    c = await run(f, contest_in(f.reps, metrics=metrics, verified_only=True))
    assert await scores(c["id"]) == {a.id: (1.0, 2), b.id: (3.0, 1)}
    open_contest = await run(f, contest_in(f.reps, metrics=metrics))
    assert await scores(open_contest["id"]) == {a.id: (6.0, 1), b.id: (3.0, 2)}


async def test_ties_share_a_rank_and_eligibility_gates_ranking(db):
    f = await make_field(4)
    a, b, c_, d = f.reps
    await act(a, START + DAY, "visit", 3)
    await act(b, START + DAY, "visit", 3)
    await act(c_, START + DAY, "visit", 2)
    await act(d, START + DAY, "visit", 1)
    await act(d, START + DAY, "note", 5)  # notes are not customer-facing activity
    contest = await run(f, contest_in(f.reps, min_activities=2))
    assert await scores(contest["id"]) == {a.id: (3.0, 1), b.id: (3.0, 1), c_.id: (2.0, 3), d.id: (1.0, None)}


def test_pure_ranks_and_prizes():
    import uuid

    from server.incentives.rules import ContestRules, Participants

    rules = ContestRules(participants=Participants(user_ids=[uuid.uuid4()]), metrics=[MetricLine(metric="visits")],
                         prizes=[Prize(kind="rank", rank=1, reward="trophy"),
                                 Prize(kind="threshold", min_score=5, reward="lunch"),
                                 Prize(kind="pot", amount=100)])
    ids = [uuid.uuid4() for _ in range(4)]
    got = rank([score(rules, ids[0], Measured(values={"visits": 6})),
                score(rules, ids[1], Measured(values={"visits": 6})),
                score(rules, ids[2], Measured(values={"visits": 3})),
                score(rules, ids[3], Measured(values={"visits": 0}))])
    assert [s.rank for s in got] == [1, 1, 3, 4]
    award(rules, got)
    assert got[0].prize == {"rewards": ["trophy", "lunch", "pot"], "pot_share": 40.0}
    assert got[2].prize == {"rewards": ["pot"], "pot_share": 20.0}
    assert got[3].prize == {}
    assert isinstance(got[0], Standing)


async def test_recompute_picks_up_amendments_deletes_and_late_syncs(db):
    """Recomputes re-measure only participants with records written since the last one; the result
    equals a full measure of the window after every kind of change."""
    from server.common.records import tombstone, update_record
    from server.comms.tables import Activity
    from server.db.tx import unit_of_work
    from server.incentives import leaderboard
    from server.incentives.leaderboard import load_contest, standings

    f = await make_field(3)
    a, b, c = f.reps
    [va] = await act(a, START + DAY, "visit")
    [vb] = await act(b, START + DAY, "visit", verification="verified")
    await act(c, START + DAY, "visit", verification="verified")
    contest = await run(f, contest_in(f.reps, verified_only=True))
    assert await scores(contest["id"]) == {a.id: (0.0, 3), b.id: (1.0, 1), c.id: (1.0, 1)}
    async with unit_of_work():  # the geofence check verifies a's visit later; b's visit is deleted
        await update_record(Activity, va, {"verification": "verified"})
        await tombstone(Activity, vb)
    await act(c, START + 2 * DAY, "visit", 2, verification="verified")  # synced late, inside the window
    await leaderboard.recompute(contest["id"])
    got = await scores(contest["id"])
    assert got == {a.id: (1.0, 2), b.id: (0.0, 3), c.id: (3.0, 1)}
    async with unit_of_work():
        row = await load_contest(contest["id"])
        full = {s.user_id: (s.score, s.rank) for s in await standings(row, full=True)}
    assert full == got
