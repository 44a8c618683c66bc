"""The outbox: queued emails and texts go out once, after commit, with retries, and their status syncs down."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from datetime import timedelta

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.common.time import utcnow
from server.comms import outbox
from server.comms.sender import BATCH, Sender
from server.comms.tables import Activity, OutboxItem
from server.db.direct import execute, fetch
from server.db.tx import unit_of_work
from tests.activity_builders import make_account, scope_of
from tests.builders import auth_headers, make_org, make_user
from tests.comms.smtp_sink import smtp_sink  # noqa: F401
from tests.comms.twilio_standin import twilio_standin_server  # noqa: F401
from tests.sync.phone import Phone, statuses

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def email(to: str = "buyer@shop.example", **extra) -> dict:
    return {"id": str(uuid.uuid4()), "type": "email", "direction": "out", "status": "queued",
            "counterpart": to, "subject": "Your quote", "body": "Hello, here is the quote.",
            "occurred_at": utcnow().isoformat(), **extra}


def text(to: str = "+14155550100", **extra) -> dict:
    return {"id": str(uuid.uuid4()), "type": "text", "direction": "out", "status": "queued",
            "counterpart": to, "body": "On my way", "occurred_at": utcnow().isoformat(), **extra}


async def outbox_rows() -> list[dict]:
    return await OutboxItem.select().order_by(OutboxItem.created_at)


async def make_due_now() -> None:
    async with unit_of_work():
        await execute("UPDATE comms_outbox SET due_at = ? WHERE state = 'pending'", [utcnow()])


@pytest.fixture
def mail_settings(settings, smtp_sink):  # noqa: F811
    return msgspec.structs.replace(settings, smtp_url=smtp_sink.url, mail_from="sales@acme.example",
                                   outbox_concurrency=2)


async def test_a_queued_email_is_sent_once_with_its_message_id_and_the_phone_sees_sent(
        client, mail_settings, smtp_sink):  # noqa: F811
    org = await make_org()
    rep = await make_user(org)
    account = await make_account(rep)
    headers = await auth_headers(client, rep)
    body = email(account_id=str(account))
    r = await client.post("/api/v1/activities", json=body, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "queued"
    # The phone retries the upload after a lost answer: still one message.
    again = await client.post("/api/v1/activities", json=body, headers=headers)
    assert again.status_code == 200
    assert len(await outbox_rows()) == 1

    assert await Sender(mail_settings).drain() == 1
    [message] = smtp_sink.messages
    key = f"<{body['id']}@fieldsales.localhost>"
    assert message.message_id == key
    assert message.rcpt_tos == ["buyer@shop.example"]
    got = (await client.get(f"/api/v1/activities/{body['id']}", headers=headers)).json()
    assert got["status"] == "sent"
    assert got["version"] > r.json()["version"]
    assert await Sender(mail_settings).drain() == 0  # nothing sent twice
    assert len(smtp_sink.messages) == 1


async def test_the_org_sender_address_and_the_reps_reply_to(client, mail_settings, smtp_sink):  # noqa: F811
    org = await make_org()
    async with unit_of_work():
        await execute("UPDATE organisations SET email_from = ? WHERE id = ?", ["team@acme.example", org])
    rep = await make_user(org)
    headers = await auth_headers(client, rep)
    body = email()
    assert (await client.post("/api/v1/activities", json=body, headers=headers)).status_code == 201
    await Sender(mail_settings).drain()
    [message] = smtp_sink.messages
    assert message.message_id == f"<{body['id']}@acme.example>"
    assert message.mail_from == "team@acme.example"
    assert rep.email in message.parsed["Reply-To"]


async def test_status_change_reaches_the_phone_through_sync(client, mail_settings, smtp_sink):  # noqa: F811
    org = await make_org()
    rep = await make_user(org)
    phone = await Phone(client, rep).login()
    await phone.pull()
    body = email()
    record_id = body.pop("id")
    result = await phone.push([phone.mutation("activities", "insert", record_id, body)])
    assert statuses(result) == ["applied"], result
    await phone.pull()
    assert phone.tables["activities"][record_id]["status"] == "queued"
    await Sender(mail_settings).drain()
    await phone.pull()
    assert phone.tables["activities"][record_id]["status"] == "sent"
    assert smtp_sink.message_ids() == [f"<{record_id}@fieldsales.localhost>"]


async def test_drafts_incoming_and_unconfigured_channels_are_not_sent(client, settings, mail_settings,
                                                                     smtp_sink):  # noqa: F811
    org = await make_org()
    rep = await make_user(org)
    headers = await auth_headers(client, rep)
    for body in (email(status="draft"), email(direction="in", status=None), text()):
        assert (await client.post("/api/v1/activities", json=body, headers=headers)).status_code == 201
    rows = await outbox_rows()
    assert [r["channel"] for r in rows] == ["text"]
    # No Twilio credentials here: the text waits, it is neither sent nor failed.
    assert await Sender(mail_settings).drain() == 0
    assert (await outbox_rows())[0]["state"] == "pending"
    assert (await outbox_rows())[0]["attempts"] == 0
    assert smtp_sink.messages == []


async def test_a_draft_is_sent_when_the_rep_queues_it(client, mail_settings, smtp_sink):  # noqa: F811
    org = await make_org()
    rep = await make_user(org)
    headers = await auth_headers(client, rep)
    body = email(status="draft")
    await client.post("/api/v1/activities", json=body, headers=headers)
    url = f"/api/v1/activities/{body['id']}"
    assert (await client.patch(url, json={"body": "Final wording"}, headers=headers)).status_code == 200
    assert await outbox_rows() == []
    r = await client.patch(url, json={"status": "queued"}, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "queued"
    await Sender(mail_settings).drain()
    [message] = smtp_sink.messages
    assert "Final wording" in message.parsed.get_content()
    assert (await client.get(url, headers=headers)).json()["status"] == "sent"
    for status in ("queued", "draft"):
        again = await client.patch(url, json={"status": status}, headers=headers)
        assert again.status_code == 422 and again.json()["code"] == "invalid_status_change"
    history = (await client.get(f"{url}/amendments", headers=headers)).json()
    assert history[-1]["changes"]["status"] == {"from": "draft", "to": "queued"}
    assert len(smtp_sink.messages) == 1


async def test_a_temporary_refusal_is_retried_with_backoff(client, mail_settings, smtp_sink):  # noqa: F811
    org = await make_org()
    rep = await make_user(org)
    headers = await auth_headers(client, rep)
    body = email()
    await client.post("/api/v1/activities", json=body, headers=headers)
    smtp_sink.fail_next(1, code=451)
    before = utcnow()
    await Sender(mail_settings).drain()
    [row] = await outbox_rows()
    assert row["state"] == "pending" and row["attempts"] == 1
    assert row["due_at"] >= before + timedelta(seconds=outbox.BACKOFF_BASE_S * 0.8 - 1)
    assert "451" in row["last_error"]
    assert (await client.get(f"/api/v1/activities/{body['id']}", headers=headers)).json()["status"] == "queued"
    await make_due_now()
    await Sender(mail_settings).drain()
    [row] = await outbox_rows()
    assert row["state"] == "done" and row["attempts"] == 2
    assert (await client.get(f"/api/v1/activities/{body['id']}", headers=headers)).json()["status"] == "sent"
    assert len(smtp_sink.message_ids()) == 1


async def test_a_refused_recipient_fails_with_the_reason(client, mail_settings, smtp_sink):  # noqa: F811
    org = await make_org()
    rep = await make_user(org)
    headers = await auth_headers(client, rep)
    smtp_sink.reject("nobody@", code=550, message="No such user")
    bad, good = email("nobody@shop.example"), email("buyer@shop.example")
    for body in (bad, good):
        await client.post("/api/v1/activities", json=body, headers=headers)
    await Sender(mail_settings).drain()
    failed = (await client.get(f"/api/v1/activities/{bad['id']}", headers=headers)).json()
    assert failed["status"] == "failed"
    assert "550" in failed["status_detail"]
    assert (await client.get(f"/api/v1/activities/{good['id']}", headers=headers)).json()["status"] == "sent"


async def test_gives_up_after_the_last_attempt(client, mail_settings, smtp_sink):  # noqa: F811
    org = await make_org()
    rep = await make_user(org)
    headers = await auth_headers(client, rep)
    body = email()
    await client.post("/api/v1/activities", json=body, headers=headers)
    few = msgspec.structs.replace(mail_settings, outbox_max_attempts=2)
    smtp_sink.fail_next(2, code=421)
    await Sender(few).drain()
    await make_due_now()
    await Sender(few).drain()
    got = (await client.get(f"/api/v1/activities/{body['id']}", headers=headers)).json()
    assert got["status"] == "failed"
    assert got["status_detail"].startswith("gave up after 2 attempts")


async def test_a_message_deleted_before_sending_is_not_sent(client, mail_settings, smtp_sink):  # noqa: F811
    org = await make_org()
    rep = await make_user(org)
    headers = await auth_headers(client, rep)
    body = email()
    await client.post("/api/v1/activities", json=body, headers=headers)
    assert (await client.delete(f"/api/v1/activities/{body['id']}", headers=headers)).status_code == 204
    await Sender(mail_settings).drain()
    assert smtp_sink.messages == []
    assert (await outbox_rows())[0]["state"] == "failed"


async def test_texts_go_through_the_provider_with_a_status_callback(client, settings, twilio_standin):  # noqa: F811
    org = await make_org()
    async with unit_of_work():
        await execute("UPDATE organisations SET sms_from = ? WHERE id = ?", ["+14155550199", org])
    rep = await make_user(org)
    headers = await auth_headers(client, rep)
    body = text()
    await client.post("/api/v1/activities", json=body, headers=headers)
    sms = msgspec.structs.replace(settings, twilio_base_url=twilio_standin.base_url,
                                  twilio_account_sid=twilio_standin.account_sid,
                                  twilio_auth_token=twilio_standin.auth_token,
                                  public_url="https://api.acme.example")
    await Sender(sms).drain()
    [sent] = twilio_standin.messages
    assert sent["To"] == "+14155550100" and sent["From"] == "+14155550199"
    assert sent["StatusCallback"] == (f"https://api.acme.example/api/v1/webhooks/twilio/{org}/status"
                                      f"?activity={body['id']}")
    got = (await client.get(f"/api/v1/activities/{body['id']}", headers=headers)).json()
    assert got["status"] == "sent"
    [row] = await Activity.select(Activity.provider_ref).where(Activity.id == uuid.UUID(body["id"]))
    assert row["provider_ref"].startswith("SM")


async def test_click_to_call_rings_the_rep_then_the_customer(client, settings, twilio_standin):  # noqa: F811
    org = await make_org()
    async with unit_of_work():
        await execute("UPDATE organisations SET sms_from = ? WHERE id = ?", ["+14155550199", org])
    rep = await make_user(org)
    account = await make_account(rep)
    headers = await auth_headers(client, rep)
    call_id = str(uuid.uuid4())
    r = await client.post("/api/v1/calls", json={"id": call_id, "account_id": str(account),
                                                 "to": "+1 415 555 0111"}, headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "rep_has_no_phone"
    await client.patch(f"/api/v1/users/{rep.id}", json={"phone": "+1 415 555 0122"}, headers=headers)
    r = await client.post("/api/v1/calls", json={"id": call_id, "account_id": str(account),
                                                 "to": "+1 415 555 0111"}, headers=headers)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "queued" and r.json()["counterpart"] == "+14155550111"
    retry = await client.post("/api/v1/calls", json={"id": call_id, "account_id": str(account),
                                                     "to": "+1 415 555 0111"}, headers=headers)
    assert retry.status_code == 200
    calls = msgspec.structs.replace(settings, twilio_base_url=twilio_standin.base_url,
                                    twilio_account_sid=twilio_standin.account_sid,
                                    twilio_auth_token=twilio_standin.auth_token)
    await Sender(calls).drain()
    [call] = twilio_standin.calls
    assert call["To"] == "+14155550122" and "+14155550111" in call["Twiml"]
    assert (await client.get(f"/api/v1/activities/{call_id}", headers=headers)).json()["status"] == "sent"


async def test_calls_need_a_number(client):
    org = await make_org()
    rep = await make_user(org)
    account = await make_account(rep)
    headers = await auth_headers(client, rep)
    await client.patch(f"/api/v1/users/{rep.id}", json={"phone": "+1 415 555 0122"}, headers=headers)
    r = await client.post("/api/v1/calls", json={"account_id": str(account)}, headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "no_phone_number"
    other = await make_user(await make_org())
    foreign = await make_account(other)
    r = await client.post("/api/v1/calls", json={"account_id": str(foreign)}, headers=headers)
    assert r.status_code == 404
    assert await outbox_rows() == []


@given(st.integers(min_value=1, max_value=40), st.floats(min_value=0, max_value=1),
       st.one_of(st.none(), st.floats(min_value=0, max_value=10_000)))
def test_backoff_grows_is_capped_and_honours_the_provider(attempt, r, retry_after):
    delay = outbox.backoff_s(attempt, retry_after, rand=lambda: r)
    base = min(outbox.BACKOFF_CAP_S, outbox.BACKOFF_BASE_S * 2 ** (attempt - 1))
    assert delay >= (retry_after or 0)
    assert 0.8 * base <= delay or delay == retry_after
    assert delay <= max(1.2 * outbox.BACKOFF_CAP_S, retry_after or 0) + 1e-6


# -- a sender killed midway ---------------------------------------------------------------------------
def _sender_process(db_url: str, smtp_url: str, data_dir, name: str) -> subprocess.Popen:
    env = {**os.environ, "FIELDSALES_DATABASE_URL": db_url, "FIELDSALES_SMTP_URL": smtp_url,
           "FIELDSALES_OUTBOX_LEASE": "1", "FIELDSALES_SECRET_KEY": "k" * 48, "FIELDSALES_DATA_DIR": str(data_dir),
           "FIELDSALES_OUTBOX_CONCURRENCY": "4"}
    with open(data_dir / f"{name}.log", "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "server", "outbox", "run"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)


async def test_a_sender_killed_midway_loses_nothing_and_duplicates_only_what_was_in_flight(
        db, tmp_path, smtp_sink):  # noqa: F811
    n = 400
    org = await make_org()
    rep = await make_user(org)
    scope = await scope_of(rep)
    from server.comms.bulk import create_activities
    from server.comms.schemas import ActivityIn

    async with unit_of_work():
        for start in range(0, n, 100):
            items = [msgspec.convert(email(f"buyer{i}@shop.example"), ActivityIn) for i in range(start, start + 100)]
            await create_activities(scope, items)
    async with unit_of_work():
        keys = {r[0] for r in await fetch("SELECT message_key FROM comms_outbox")}
    assert len(keys) == n

    first = _sender_process(db.url, smtp_sink.url, tmp_path, "first")
    try:
        try:
            await asyncio.to_thread(smtp_sink.wait_for, n // 4, 60)
        except TimeoutError:
            raise AssertionError((tmp_path / "first.log").read_text()) from None
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    async with unit_of_work():
        in_flight = {r[0] for r in await fetch(
            "SELECT message_key FROM comms_outbox WHERE state = 'pending' AND claimed_by IS NOT NULL")}
    received_at_kill = len(smtp_sink.messages)
    assert received_at_kill < n, "the first sender finished before it was killed: make the batch bigger"
    assert len(in_flight) <= BATCH

    second = _sender_process(db.url, smtp_sink.url, tmp_path, "second")
    try:
        for _ in range(600):
            async with unit_of_work():
                left = (await fetch("SELECT count(*) FROM comms_outbox WHERE state <> 'done'"))[0][0]
            if not left:
                break
            await asyncio.sleep(0.1)
        assert not left, (tmp_path / "second.log").read_text()
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(15)

    counts = Counter(smtp_sink.message_ids())
    assert set(counts) == keys, "every message arrives"
    duplicated = {k for k, c in counts.items() if c > 1}
    assert all(c <= 2 for c in counts.values())
    assert duplicated <= in_flight, "only messages in flight at the kill are sent twice"
    async with unit_of_work():
        statuses = Counter(r[0] for r in await fetch("SELECT status FROM activities WHERE type = 'email'"))
    assert statuses == {"sent": n}
