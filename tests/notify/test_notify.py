"""Queueing pushes: one per live device with a token, only in the caller's org, only if it commits."""

from __future__ import annotations

import uuid

import msgspec
import pytest

from server.db.tx import unit_of_work
from server.notify import service
from server.notify.service import notify_users
from server.notify.tables import PushItem
from tests.builders import make_org, make_user
from tests.notify.builders import make_device


async def queued() -> list[dict]:
    return await PushItem.select().order_by(PushItem.created_at)


async def test_one_push_per_live_device_with_a_token_of_the_users_in_that_org(db):
    org, other_org = await make_org(), await make_org()
    rep, colleague, bystander = await make_user(org), await make_user(org), await make_user(org)
    stranger = await make_user(other_org)
    phone = await make_device(org, rep.id, "tok-phone")
    await make_device(org, rep.id, "tok-tablet", provider="apns")  # a raw APNs token: FCM cannot deliver it
    await make_device(org, rep.id, "tok-old", revoked=True)
    await make_device(org, rep.id, "")  # never registered for pushes
    colleague_phone = await make_device(org, colleague.id, "tok-colleague")
    await make_device(org, bystander.id, "tok-bystander")  # not notified
    await make_device(other_org, stranger.id, "tok-stranger")  # another org, even though its id is passed

    async with unit_of_work():
        count = await notify_users(org, [rep.id, colleague.id, stranger.id, rep.id], title="Contest live",
                                   body="Summer blitz starts now", data={"contest_id": "c1"},
                                   collapse_key="contest-c1")
    assert count == 2
    rows = await queued()
    assert {(r["device_id"], r["token"], r["provider"]) for r in rows} == {
        (phone, "tok-phone", "fcm"), (colleague_phone, "tok-colleague", "fcm")}
    for r in rows:
        assert r["org_id"] == org
        assert r["user_id"] in (rep.id, colleague.id)
        assert (r["title"], r["body"], r["collapse_key"]) == ("Contest live", "Summer blitz starts now", "contest-c1")
        data = msgspec.json.decode(r["data"]) if isinstance(r["data"], str) else r["data"]
        assert data == {"contest_id": "c1"}
        assert (r["state"], r["attempts"]) == ("pending", 0)


async def test_nobody_to_notify_queues_nothing(db):
    org = await make_org()
    rep = await make_user(org)
    await make_device(org, rep.id, "")
    async with unit_of_work():
        assert await notify_users(org, [], title="t", body="b") == 0
        assert await notify_users(org, [rep.id, uuid.uuid4()], title="t", body="b") == 0
    assert await queued() == []


async def test_a_rollback_queues_nothing_and_wakes_nobody(db):
    org = await make_org()
    rep = await make_user(org)
    await make_device(org, rep.id)
    with service.WAKEUPS.listening() as woken:
        with pytest.raises(RuntimeError):
            async with unit_of_work():
                assert await notify_users(org, [rep.id], title="t", body="b") == 1
                raise RuntimeError("the contest could not be published")
        assert await queued() == []
        assert not woken.is_set()

        async with unit_of_work():
            await notify_users(org, [rep.id], title="t", body="b")
            assert not woken.is_set()  # not before the commit
        assert woken.is_set()


async def test_long_texts_are_clipped_to_what_a_phone_shows(db):
    org = await make_org()
    rep = await make_user(org)
    await make_device(org, rep.id)
    async with unit_of_work():
        await notify_users(org, [rep.id], title="T" * 500, body="B" * 5000, collapse_key="k" * 100)
    [row] = await queued()
    assert len(row["title"]) == service.TITLE_MAX and row["title"].endswith("…")
    assert len(row["body"]) == service.BODY_MAX
    assert len(row["collapse_key"]) == service.COLLAPSE_KEY_MAX


async def test_outside_a_unit_of_work_is_a_programming_error(db):
    with pytest.raises(RuntimeError, match="unit_of_work"):
        await notify_users(uuid.uuid4(), [uuid.uuid4()], title="t", body="b")
