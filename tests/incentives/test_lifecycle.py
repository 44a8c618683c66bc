"""The lifecycle through the tick with a controlled clock: grace period, freeze, adjustments, pushes."""

from __future__ import annotations

from datetime import timedelta

import msgspec

from server.db.tx import unit_of_work
from server.incentives import leaderboard, lifecycle
from server.incentives.lifecycle import advance, record_adjustments, tick
from server.incentives.tables import Contest, ContestAdjustment, ContestResult
from server.notify.tables import PushItem
from tests.incentives.helpers import (
    END,
    START,
    act,
    contest_in,
    entries,
    make_field,
    publish,
    scores,
    set_grace,
)
from tests.notify.builders import make_device

HOUR = timedelta(hours=1)


async def status_of(contest_id) -> str:
    row = await Contest.select(Contest.status).where(Contest.id == contest_id).first()
    return row["status"]


async def test_due_status_is_pure_and_uses_the_grace_period():
    row = {"starts_at": START, "ends_at": END}
    assert lifecycle.due_status(row, START - HOUR, 72) == "scheduled"
    assert lifecycle.due_status(row, START, 72) == "running"
    assert lifecycle.due_status(row, END, 72) == "closing"
    assert lifecycle.due_status(row, END + 72 * HOUR - timedelta(microseconds=1), 72) == "closing"
    assert lifecycle.due_status(row, END + 72 * HOUR, 72) == "finished"


async def test_lifecycle_grace_freeze_and_adjustments(db):
    f = await make_field(3)
    a, b, c = f.reps
    await set_grace(f.org_id, 24)
    devices = {p.id: await make_device(f.org_id, p.id) for p in f.reps}
    contest = await publish(f.manager, contest_in(f.reps, prizes=[{"kind": "rank", "rank": 1, "reward": "Trophy"}]))
    cid = contest["id"]
    assert contest["status"] == "scheduled"
    published_pushes = await PushItem.select().where(PushItem.title == "New contest: Summer blitz")
    assert {p["device_id"] for p in published_pushes} == set(devices.values())  # every participant

    assert await tick(START - HOUR) == {}  # not due: nothing touched
    assert await status_of(cid) == "scheduled"
    await act(a, START + HOUR, "visit", 2)
    await act(b, START + HOUR, "visit", 1)
    assert await tick(START + 2 * HOUR) == {"running": 1}
    assert await scores(cid) == {a.id: (2.0, 1), b.id: (1.0, 2), c.id: (0.0, 3)}

    assert await tick(END + HOUR) == {"closing": 1}
    # Closing: activity recorded inside the window but synced late still counts.
    await act(b, END - HOUR, "visit", 3)
    assert await leaderboard.recompute(cid) == 2
    assert await scores(cid) == {a.id: (2.0, 2), b.id: (4.0, 1), c.id: (0.0, 3)}
    assert await tick(END + 23 * HOUR) == {"closing": 1}

    assert await tick(END + 24 * HOUR) == {"finished": 1}
    frozen = {r["user_id"]: (r["score"], r["rank"]) for r in await ContestResult.select()
              .where(ContestResult.contest_id == cid)}
    assert frozen == {a.id: (2.0, 2), b.id: (4.0, 1), c.id: (0.0, 3)}
    board = await entries(cid)
    assert msgspec.json.decode(board[b.id]["detail"])["prize"] == {"rewards": ["Trophy"]}
    assert msgspec.json.decode(board[b.id]["detail"])["final"] is True
    won = await PushItem.select().where(PushItem.title == "You won: Summer blitz")
    assert [p["device_id"] for p in won] == [devices[b.id]]

    # After the freeze: late activity never changes the results, it is recorded as an adjustment.
    versions = {u: r["version"] for u, r in board.items()}
    late = await act(a, START + 2 * HOUR, "visit", 5)
    assert await leaderboard.recompute(cid) == 0
    assert await tick(END + 30 * HOUR) == {}
    assert {u: r["version"] for u, r in (await entries(cid)).items()} == versions
    assert await record_adjustments(cid) == 1
    [adj] = await ContestAdjustment.select().where(ContestAdjustment.contest_id == cid)
    assert (adj["user_id"], adj["metric"], adj["delta"]) == (a.id, "visits", 5.0)
    assert sorted(msgspec.json.decode(adj["activity_ids"])) == sorted(str(x["id"]) for x in late)
    assert await record_adjustments(cid) == 0  # recorded once
    assert await scores(cid) == {a.id: (2.0, 2), b.id: (4.0, 1), c.id: (0.0, 3)}
    assert await status_of(cid) == "finished"


async def test_finishing_is_one_transaction(db, monkeypatch):
    """A failure while finishing (here: queueing the winners' pushes) leaves the contest closing,
    with no frozen results; the next tick finishes it."""
    f = await make_field(2)
    contest = await publish(f.manager, contest_in(f.reps))
    await act(f.reps[0], START + HOUR)
    await advance(contest["id"], START + HOUR)

    async def broken(*args, **kwargs):
        raise RuntimeError("push queue down")

    monkeypatch.setattr(lifecycle, "notify_users", broken)
    try:
        await advance(contest["id"], END + 100 * HOUR)
    except RuntimeError:
        pass
    assert await status_of(contest["id"]) == "running"
    assert not await ContestResult.select().where(ContestResult.contest_id == contest["id"])
    monkeypatch.undo()
    assert await advance(contest["id"], END + 100 * HOUR) == "finished"
    assert len(await ContestResult.select().where(ContestResult.contest_id == contest["id"])) == 2


async def test_a_missed_schedule_catches_up_and_cancelled_contests_stay_put(db):
    f = await make_field(1)
    late = await publish(f.manager, contest_in(f.reps))
    cancelled = await publish(f.manager, contest_in(f.reps, name="Off"))
    from server.incentives import service
    from tests.activity_builders import scope_of

    async with unit_of_work():
        await service.cancel_contest(await scope_of(f.manager), cancelled["id"])
    assert await tick(END + 1000 * HOUR) == {"finished": 1}
    assert await status_of(late["id"]) == "finished"
    assert await status_of(cancelled["id"]) == "cancelled"


async def test_jobs_are_declared_and_run(db):
    from server.incentives import jobs  # noqa: F401  (registers them)
    from server.jobs.registry import JOBS, Window

    assert JOBS["contests_tick"].every_s == 60 and JOBS["leaderboards"].every_s == 30
    f = await make_field(1)
    contest = await publish(f.manager, contest_in(f.reps))
    await act(f.reps[0], START + HOUR)
    window = Window(START + HOUR, START + 2 * HOUR)
    assert await JOBS["contests_tick"].run(window) == "1 running"
    await act(f.reps[0], START + 2 * HOUR)
    assert "1 leaderboard entr" in await JOBS["leaderboards"].run(window)
    assert await scores(contest["id"]) == {f.reps[0].id: (2.0, 1)}
    assert await leaderboard.recompute_for_activity_changes(f.org_id) == 0  # nothing new
