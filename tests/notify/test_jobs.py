"""The push cleanup job: old finished pushes go, recent ones and waiting ones stay."""

from __future__ import annotations

from datetime import timedelta

from server.common.time import utcnow
from server.db.direct import execute
from server.db.tx import unit_of_work
from server.jobs.registry import JOBS, Window
from server.notify import jobs
from server.notify.service import notify_users
from server.notify.tables import PushItem
from tests.builders import make_org, make_user
from tests.notify.builders import make_device


async def test_cleanup_deletes_finished_pushes_older_than_a_week(db):
    org = await make_org()
    rep = await make_user(org)
    for _ in range(6):
        await make_device(org, rep.id)
    async with unit_of_work():
        assert await notify_users(org, [rep.id], title="t", body="b") == 6
    rows = await PushItem.select(PushItem.id).order_by(PushItem.id)
    ids = [r["id"] for r in rows]
    now = utcnow()
    old, recent = now - timedelta(days=8), now - timedelta(days=2)
    async with unit_of_work():
        for item, state, finished in ((ids[0], "done", old), (ids[1], "failed", old), (ids[2], "done", recent),
                                      (ids[3], "failed", recent)):
            await execute("UPDATE push_outbox SET state = ?, finished_at = ? WHERE id = ?", [state, finished, item])
        await execute("UPDATE push_outbox SET due_at = ? WHERE id = ?", [old, ids[4]])  # stuck for 8 days

    window = Window(start=now - timedelta(hours=1), end=now)
    spec = JOBS["push_cleanup"]
    assert spec.every_s == 3600
    assert await spec.run(window) == "deleted 2 old pushes"
    left = {r["id"]: r for r in await PushItem.select()}
    assert set(left) == {ids[2], ids[3], ids[4], ids[5]}
    assert (left[ids[4]]["state"], left[ids[4]]["last_error"]) == ("failed", jobs.EXPIRED)
    assert left[ids[5]]["state"] == "pending"
    assert await spec.run(window) == "deleted 0 old pushes"  # idempotent for its window
