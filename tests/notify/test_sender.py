"""Sending pushes: after commit, to FCM's v1 API, retried when FCM is unwell, never twice, dead tokens dropped."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

import msgspec
import pytest

from server.common.time import as_datetime, utcnow
from server.db.direct import execute
from server.db.tx import unit_of_work
from server.notify import fcm
from server.notify import sender as push_sender
from server.notify.sender import PushSender, drain, run_push_sender
from server.notify.service import notify_users
from server.notify.tables import PushItem
from tests.builders import make_org, make_user
from tests.notify.builders import make_device, token_of
from tests.notify.fcm_standin import FcmStandin, fcm_standin_server  # noqa: F401


@pytest.fixture
def push_settings(settings, fcm_standin: FcmStandin):
    return msgspec.structs.replace(settings, fcm_base_url=fcm_standin.base_url,
                                   fcm_project_id=fcm_standin.project_id,
                                   fcm_access_token=fcm_standin.access_token, outbox_concurrency=4)


async def queue(org: uuid.UUID, *user_ids: uuid.UUID, **extra) -> int:
    async with unit_of_work():
        return await notify_users(org, user_ids, title=extra.pop("title", "Contest live"),
                                  body=extra.pop("body", "Summer blitz starts now"), **extra)


async def items() -> list[dict]:
    return await PushItem.select().order_by(PushItem.created_at)


async def make_due_now() -> None:
    async with unit_of_work():
        await execute("UPDATE push_outbox SET due_at = ? WHERE state = 'pending'", [utcnow()])


async def test_a_push_reaches_fcm_with_the_v1_message_and_the_bearer_once(push_settings, fcm_standin):
    org = await make_org()
    rep = await make_user(org)
    await make_device(org, rep.id, "tok-phone")
    await queue(org, rep.id, data={"contest_id": "c1", "kind": "published"}, collapse_key="contest-c1")

    assert await drain(push_settings) == 1
    [sent] = fcm_standin.messages
    assert sent.authorization == f"Bearer {fcm_standin.access_token}"
    assert sent.message == {
        "token": "tok-phone",
        "notification": {"title": "Contest live", "body": "Summer blitz starts now"},
        "data": {"contest_id": "c1", "kind": "published"},
        "android": {"collapse_key": "contest-c1"},
        "apns": {"headers": {"apns-collapse-id": "contest-c1"}},
    }
    [row] = await items()
    assert (row["state"], row["attempts"], row["last_error"]) == ("done", 1, None)
    assert row["finished_at"] is not None

    assert await drain(push_settings) == 0  # a second sender finds nothing: nothing is sent twice
    assert len(fcm_standin.messages) == 1


async def test_without_data_or_collapse_key_the_message_is_plain(push_settings, fcm_standin):
    org = await make_org()
    rep = await make_user(org)
    await make_device(org, rep.id, "tok-plain")
    await queue(org, rep.id)
    await drain(push_settings)
    [sent] = fcm_standin.messages
    assert sent.message == {"token": "tok-plain",
                            "notification": {"title": "Contest live", "body": "Summer blitz starts now"}}


async def test_many_devices_go_out_in_one_drain_each_once(push_settings, fcm_standin):
    org = await make_org()
    reps = [await make_user(org) for _ in range(5)]
    for rep in reps:
        for _ in range(3):
            await make_device(org, rep.id)
    assert await queue(org, *(r.id for r in reps)) == 15
    assert await drain(push_settings, batch=4) == 15
    assert len({m.token for m in fcm_standin.messages}) == len(fcm_standin.messages) == 15
    assert {r["state"] for r in await items()} == {"done"}


@pytest.mark.parametrize("status", [503, 429, 500])
async def test_a_transient_failure_is_retried_later(push_settings, fcm_standin, status):
    org = await make_org()
    rep = await make_user(org)
    await make_device(org, rep.id, "tok-phone")
    await queue(org, rep.id)
    fcm_standin.fail_next(1, status, retry_after=120 if status == 429 else None)

    before = utcnow()
    assert await drain(push_settings) == 1
    assert fcm_standin.messages == []
    [row] = await items()
    assert (row["state"], row["attempts"], row["lease_until"]) == ("pending", 1, None)
    assert str(status) in row["last_error"]
    due = as_datetime(row["due_at"])
    assert due > before + timedelta(seconds=10)  # backoff: not in this drain's loop
    if status == 429:
        assert due >= before + timedelta(seconds=119)  # Retry-After honoured
    assert await drain(push_settings) == 0  # not due yet

    await make_due_now()
    assert await drain(push_settings) == 1
    assert [m.token for m in fcm_standin.messages] == ["tok-phone"]
    [row] = await items()
    assert (row["state"], row["attempts"]) == ("done", 2)


async def test_fcm_unreachable_is_transient(push_settings, fcm_standin):
    org = await make_org()
    rep = await make_user(org)
    await make_device(org, rep.id)
    await queue(org, rep.id)
    fcm_standin.stop()
    assert await drain(push_settings) == 1
    [row] = await items()
    assert row["state"] == "pending"
    assert "unreachable" in row["last_error"]


async def test_an_unregistered_token_fails_the_push_and_is_cleared_from_the_device(push_settings, fcm_standin):
    org = await make_org()
    rep, colleague = await make_user(org), await make_user(org)
    dead = await make_device(org, rep.id, "tok-uninstalled")
    alive = await make_device(org, colleague.id, "tok-alive")
    await queue(org, rep.id, colleague.id, title="First")
    await queue(org, rep.id, title="Second")  # also waiting for the dead token
    fcm_standin.unregister("tok-uninstalled")

    assert await drain(push_settings, batch=2) >= 2
    assert await token_of(dead) is None
    assert await token_of(alive) == "tok-alive"
    by_title = {(r["token"], r["title"]): r for r in await items()}
    for title in ("First", "Second"):
        row = by_title[("tok-uninstalled", title)]
        assert row["state"] == "failed"
        assert "UNREGISTERED" in row["last_error"]
    assert by_title[("tok-alive", "First")]["state"] == "done"
    assert [m.token for m in fcm_standin.messages] == ["tok-alive"]
    # Sent to FCM once for the dead token: the second push failed without asking again.
    assert fcm_standin.requests == 2

    assert await drain(push_settings) == 0  # never retried
    async with unit_of_work():
        assert await notify_users(org, [rep.id], title="t", body="b") == 0  # nothing queued for it any more


async def test_a_dead_token_does_not_clear_a_new_one_the_phone_registered_meanwhile(push_settings, fcm_standin):
    org = await make_org()
    rep = await make_user(org)
    phone = await make_device(org, rep.id, "tok-old")
    await queue(org, rep.id)
    fcm_standin.unregister("tok-old")
    async with unit_of_work():
        claimed, _ = await push_sender.claim("w1", 10, 60, ["fcm"])
    async with unit_of_work():
        await execute("UPDATE devices SET push_token = ? WHERE id = ?", ["tok-new", phone])
    sender = PushSender(push_settings)
    try:
        results = await push_sender.send_all(sender.clients, claimed, {i.id for i in claimed}, 2)
    finally:
        await sender.aclose()
    async with unit_of_work():
        await push_sender.record(results, 10, "w1")
    assert await token_of(phone) == "tok-new"
    [row] = await items()
    assert row["state"] == "failed"


async def test_a_bad_access_token_keeps_the_pushes_and_says_so_loudly(push_settings, fcm_standin, caplog):
    org = await make_org()
    rep = await make_user(org)
    phone = await make_device(org, rep.id)
    await queue(org, rep.id)
    wrong = msgspec.structs.replace(push_settings, fcm_access_token="expired")
    fcm._last_alarm = -fcm.ALARM_EVERY_S  # earlier tests may have alarmed
    with caplog.at_level(logging.ERROR, logger="fieldsales.push"):
        assert await drain(wrong) == 1
    assert any("credentials" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    [row] = await items()
    assert row["state"] == "pending"
    assert "401" in row["last_error"]
    assert await token_of(phone) is not None

    await make_due_now()
    assert await drain(push_settings) == 1  # the refreshed token gets it through
    assert len(fcm_standin.messages) == 1


async def test_a_push_is_failed_after_the_last_attempt(push_settings, fcm_standin):
    org = await make_org()
    rep = await make_user(org)
    await make_device(org, rep.id)
    await queue(org, rep.id)
    settings = msgspec.structs.replace(push_settings, outbox_max_attempts=2)
    fcm_standin.fail_next(5, 503)
    assert await drain(settings) == 1
    await make_due_now()
    assert await drain(settings) == 1
    [row] = await items()
    assert row["state"] == "failed"
    assert row["last_error"].startswith("gave up after 2 attempts")


async def test_a_device_revoked_after_queueing_gets_nothing(push_settings, fcm_standin):
    org = await make_org()
    rep = await make_user(org)
    phone = await make_device(org, rep.id)
    await queue(org, rep.id)
    async with unit_of_work():
        await execute("UPDATE devices SET revoked_at = ?, push_token = NULL WHERE id = ?", [utcnow(), phone])
    assert await drain(push_settings) == 1
    assert fcm_standin.requests == 0
    [row] = await items()
    assert row["state"] == "failed"


async def test_the_lease_lets_a_second_sender_take_over_from_a_dead_one(push_settings, fcm_standin):
    org = await make_org()
    rep = await make_user(org)
    await make_device(org, rep.id, "tok-phone")
    await queue(org, rep.id)
    # A sender claims and dies before sending or recording.
    async with unit_of_work():
        claimed, _ = await push_sender.claim("dead-sender", 10, 60, ["fcm"])
    assert len(claimed) == 1

    assert await drain(push_settings) == 0  # leased: the others keep off
    assert fcm_standin.messages == []

    async with unit_of_work():  # a minute later
        await execute("UPDATE push_outbox SET lease_until = ?", [utcnow() - timedelta(seconds=1)])
    assert await drain(push_settings) == 1
    assert [m.token for m in fcm_standin.messages] == ["tok-phone"]
    [row] = await items()
    assert (row["state"], row["attempts"]) == ("done", 2)
    assert row["claimed_by"] != "dead-sender"


async def test_concurrent_senders_send_each_push_once(push_settings, fcm_standin):
    org = await make_org()
    reps = [await make_user(org) for _ in range(4)]
    for rep in reps:
        for _ in range(5):
            await make_device(org, rep.id)
    await queue(org, *(r.id for r in reps))
    fcm_standin.delay_s = 0.02
    senders = [PushSender(push_settings, batch=3) for _ in range(3)]
    try:
        handled = await asyncio.gather(*(s.drain() for s in senders))
    finally:
        for s in senders:
            await s.aclose()
    assert sum(handled) == 20
    assert len(fcm_standin.messages) == len({m.token for m in fcm_standin.messages}) == 20


async def test_unconfigured_fcm_leaves_pushes_waiting(settings, db):
    org = await make_org()
    rep = await make_user(org)
    await make_device(org, rep.id)
    await queue(org, rep.id)
    assert await drain(msgspec.structs.replace(settings, fcm_project_id=None, fcm_access_token=None)) == 0
    [row] = await items()
    assert (row["state"], row["attempts"]) == ("pending", 0)


async def test_the_in_process_sender_wakes_on_commit(push_settings, fcm_standin):
    org = await make_org()
    rep = await make_user(org)
    await make_device(org, rep.id, "tok-phone")
    async with run_push_sender(push_settings):
        await asyncio.sleep(0.1)  # the sender is idle, waiting (it polls only every few seconds)
        started = asyncio.get_running_loop().time()
        await queue(org, rep.id)
        while not fcm_standin.messages and asyncio.get_running_loop().time() - started < 5:
            await asyncio.sleep(0.02)
        elapsed = asyncio.get_running_loop().time() - started
    assert [m.token for m in fcm_standin.messages] == ["tok-phone"]
    assert elapsed < push_sender.POLL_S
    for _ in range(50):  # recorded in the sender's own transaction, just after sending
        if (await items())[0]["state"] == "done":
            break
        await asyncio.sleep(0.02)
    assert (await items())[0]["state"] == "done"
