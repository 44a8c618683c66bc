"""The Twilio webhooks over HTTP, signed as the provider signs them (the ``twilio`` package's validator)."""

from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta
from urllib.parse import urlencode

import httpx
import pytest
from twilio.request_validator import RequestValidator

from server.accounts.tables import Account, Contact
from server.common.records import insert_record
from server.common.time import utcnow
from server.comms.tables import Activity, InboxItem, WebhookReceipt
from server.db.tx import unit_of_work
from server.orgs.tables import Organisation
from tests.activity_builders import make_activity
from tests.builders import auth_headers, make_org, make_user
from tests.sync.phone import Phone

TOKEN = "test-token"
BASE = "http://testserver"
CONTACT_PHONE = "+14155550123"
STRANGER = "+14155550999"
ORG_NUMBER = "+14155550100"


@pytest.fixture
def settings(db, tmp_path):
    from server.config import load_settings

    return load_settings(database_url=db.url, secret_key="test-secret-" + "x" * 40,
                         data_dir=str(tmp_path / "var"), password_time_cost=1,
                         login_attempts_per_minute=50, twilio_auth_token=TOKEN,
                         webhook_requests_per_minute=1000)


def signed(path: str, params: dict, *, token: str = TOKEN, signed_path: str | None = None) -> dict:
    url = BASE + (signed_path or path)
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


async def post(client, path: str, params: dict, **kw) -> httpx.Response:
    return await client.post(path, data=params, headers=signed(path, params, **kw))


def sms_params(sender: str = CONTACT_PHONE, body: str = "Yes, Tuesday works", sid: str | None = None) -> dict:
    return {"MessageSid": sid or f"SM{uuid.uuid4().hex}", "AccountSid": "AC123", "From": sender,
            "To": ORG_NUMBER, "Body": body, "NumMedia": "0"}


@pytest.fixture
async def world(db):
    """An org, the account owner A, another rep B, an account with one contact on CONTACT_PHONE."""
    org_id = await make_org()
    owner = await make_user(org_id)
    other = await make_user(org_id)
    async with unit_of_work():
        account = await insert_record(Account, org_id, {"name": "Acme", "owner_id": owner.id})
        contact = await insert_record(Contact, org_id, {"account_id": account["id"], "first_name": "Ada",
                                                         "phone_e164": CONTACT_PHONE})
    return {"org_id": org_id, "owner": owner, "other": other, "account_id": account["id"],
            "contact_id": contact["id"]}


async def counts() -> tuple[int, int, int]:
    return (await Activity.count(), await InboxItem.count(), await WebhookReceipt.count())


def sms_path(org_id) -> str:
    return f"/api/v1/webhooks/twilio/{org_id}/sms"


# -- inbound texts ---------------------------------------------------------------------
async def test_inbound_text_from_a_contact_is_logged_for_the_account_owner(client, world):
    phone = await Phone(client, world["owner"]).login()
    await phone.pull()

    r = await post(client, sms_path(world["org_id"]), sms_params())

    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/xml")
    assert r.text == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    rows = await Activity.select().where(Activity.direction == "in")
    assert len(rows) == 1
    act = rows[0]
    assert (act["type"], act["status"], act["counterpart"], act["body"]) == (
        "text", "received", CONTACT_PHONE, "Yes, Tuesday works")
    assert (act["rep_id"], act["account_id"], act["contact_id"]) == (
        world["owner"].id, world["account_id"], world["contact_id"])
    await phone.pull()
    assert str(act["id"]) in phone.ids("activities")
    timeline = await client.get(f"/api/v1/accounts/{world['account_id']}/timeline",
                                headers=phone.headers)
    assert str(act["id"]) in [i["id"] for i in timeline.json()["items"]]


async def test_a_reply_goes_to_the_rep_who_texted_that_number_last(client, world):
    await make_activity(world["owner"], type="text", counterpart=CONTACT_PHONE, status="delivered",
                        account_id=world["account_id"], occurred_at=utcnow() - timedelta(days=2))
    await make_activity(world["other"], type="text", counterpart=CONTACT_PHONE, status="delivered",
                        account_id=world["account_id"], contact_id=world["contact_id"])

    r = await post(client, sms_path(world["org_id"]), sms_params())

    assert r.status_code == 200, r.text
    act = await Activity.select().where(Activity.direction == "in").first()
    assert act["rep_id"] == world["other"].id
    assert act["contact_id"] == world["contact_id"]


async def test_a_replayed_text_stores_nothing_new(client, world):
    params = sms_params()
    assert (await post(client, sms_path(world["org_id"]), params)).status_code == 200
    before = await counts()
    r = await post(client, sms_path(world["org_id"]), params)
    assert r.status_code == 200
    assert await counts() == before


async def test_a_text_from_an_unknown_number_goes_to_the_inbox(client, world):
    before = await Activity.count()
    r = await post(client, sms_path(world["org_id"]), sms_params(sender=STRANGER, body="who is this?"))
    assert r.status_code == 200, r.text
    assert await Activity.count() == before
    items = await InboxItem.select()
    assert [(i["channel"], i["sender"], i["body"], i["state"]) for i in items] == [
        ("text", STRANGER, "who is this?", "open")]


async def test_a_number_on_an_unowned_account_goes_to_the_inbox(client, world):
    async with unit_of_work():
        await insert_record(Account, world["org_id"], {"name": "Nobody's", "phone_e164": STRANGER})
    r = await post(client, sms_path(world["org_id"]), sms_params(sender=STRANGER))
    assert r.status_code == 200
    assert await InboxItem.count() == 1
    assert await Activity.count().where(Activity.direction == "in") == 0


async def test_an_account_number_matches_the_account(client, world):
    async with unit_of_work():
        account = await insert_record(Account, world["org_id"], {"name": "Shop", "phone_e164": STRANGER,
                                                                  "owner_id": world["other"].id})
    assert (await post(client, sms_path(world["org_id"]), sms_params(sender=STRANGER))).status_code == 200
    act = await Activity.select().where(Activity.direction == "in").first()
    assert (act["rep_id"], act["account_id"], act["contact_id"]) == (world["other"].id, account["id"], None)


# -- signatures --------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["unsigned", "garbage", "other_token", "other_org_url"])
async def test_requests_the_provider_did_not_sign_are_refused(client, world, how):
    path, params = sms_path(world["org_id"]), sms_params()
    headers = {
        "unsigned": {},
        "garbage": {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
        "other_token": signed(path, params, token="another-token"),
        "other_org_url": signed(path, params, signed_path=sms_path(uuid.uuid4())),
    }[how]
    before = await counts()

    r = await client.post(path, data=params, headers=headers)

    assert r.status_code == 403
    assert r.json()["code"] == "invalid_signature"
    assert await counts() == before


@pytest.mark.parametrize("route", ["sms", "status", "call", "call?leg=dial"])
async def test_every_twilio_route_refuses_unsigned_requests(client, world, route):
    before = await counts()
    r = await client.post(f"/api/v1/webhooks/twilio/{world['org_id']}/{route}", data=sms_params())
    assert r.status_code == 403
    assert r.json()["code"] == "invalid_signature"
    assert await counts() == before


async def test_no_configured_token_refuses_everything(world, settings):
    import msgspec

    async with client_with(msgspec.structs.replace(settings, twilio_auth_token=None)) as client:
        r = await post(client, sms_path(world["org_id"]), sms_params())
    assert r.status_code == 403
    assert r.json()["code"] == "invalid_signature"
    assert await counts() == (0, 0, 0)


async def test_a_signed_request_for_an_org_that_does_not_exist_is_404(client, world):
    before = await counts()
    r = await post(client, sms_path(uuid.uuid4()), sms_params())
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"
    assert await counts() == before


async def test_only_form_posts_are_taken(client, world):
    path = sms_path(world["org_id"])
    r = await client.post(path, json=sms_params(), headers=signed(path, {}))
    assert r.status_code == 415
    assert r.json()["code"] == "unsupported_media_type"


# -- delivery status of texts ------------------------------------------------------------
def status_path(org_id, activity_id) -> str:
    return f"/api/v1/webhooks/twilio/{org_id}/status?activity={activity_id}"


async def outbound_text(world, **fields) -> dict:
    return await make_activity(world["owner"], type="text", counterpart=CONTACT_PHONE, body="Tuesday?",
                               account_id=world["account_id"], **{"status": "queued", **fields})


def status_params(sid: str, status: str, **extra) -> dict:
    return {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status,
            "AccountSid": "AC123", "From": ORG_NUMBER, "To": CONTACT_PHONE, **extra}


async def activity(activity_id) -> dict:
    return await Activity.select().where(Activity.id == activity_id).first()


async def test_sent_then_delivered_reaches_the_phone(client, world):
    text = await outbound_text(world)
    phone = await Phone(client, world["owner"]).login()
    await phone.pull()
    path = status_path(world["org_id"], text["id"])

    assert (await post(client, path, status_params("SM1", "sent"))).status_code == 200
    row = await activity(text["id"])
    assert (row["status"], row["provider_ref"]) == ("sent", "SM1")  # the callback overtook the sender
    assert row["version"] > text["version"]
    await phone.pull()
    assert phone.tables["activities"][str(text["id"])]["status"] == "sent"

    assert (await post(client, path, status_params("SM1", "delivered"))).status_code == 200
    await phone.pull()
    assert phone.tables["activities"][str(text["id"])]["status"] == "delivered"


async def test_a_late_sent_does_not_undo_delivered(client, world):
    text = await outbound_text(world, status="sent", provider_ref="SM2")
    path = status_path(world["org_id"], text["id"])
    await post(client, path, status_params("SM2", "delivered"))
    delivered = await activity(text["id"])
    await post(client, path, status_params("SM2", "sent"))
    assert await activity(text["id"]) == delivered


async def test_a_failed_text_says_why(client, world):
    text = await outbound_text(world, status="sent", provider_ref="SM3")
    await post(client, status_path(world["org_id"], text["id"]),
               status_params("SM3", "undelivered", ErrorCode="30003"))
    row = await activity(text["id"])
    assert (row["status"], row["status_detail"]) == ("failed", "twilio 30003")


async def test_a_status_without_our_id_finds_the_text_by_sid(client, world):
    text = await outbound_text(world, status="sent", provider_ref="SM4")
    path = f"/api/v1/webhooks/twilio/{world['org_id']}/status"
    assert (await post(client, path, status_params("SM4", "delivered"))).status_code == 200
    assert (await activity(text["id"]))["status"] == "delivered"


async def test_a_replayed_status_changes_nothing(client, world):
    text = await outbound_text(world, status="sent", provider_ref="SM5")
    path, params = status_path(world["org_id"], text["id"]), status_params("SM5", "delivered")
    await post(client, path, params)
    row, before = await activity(text["id"]), await counts()
    assert (await post(client, path, params)).status_code == 200
    assert await activity(text["id"]) == row
    assert await counts() == before


async def test_a_callback_through_one_org_cannot_touch_another_orgs_text(client, world):
    text = await outbound_text(world, status="sent", provider_ref="SM6")
    intruder_org = await make_org()
    r = await post(client, status_path(intruder_org, text["id"]), status_params("SM6", "failed"))
    assert r.status_code == 200  # nothing to say to the provider: the callback is simply not ours
    assert await activity(text["id"]) == text
    await post(client, f"/api/v1/webhooks/twilio/{intruder_org}/status", status_params("SM6", "failed"))
    assert await activity(text["id"]) == text


# -- calls -------------------------------------------------------------------------------
def call_path(org_id, activity_id, leg: str | None = None) -> str:
    query = {"activity": str(activity_id), **({"leg": leg} if leg else {})}
    return f"/api/v1/webhooks/twilio/{org_id}/call?{urlencode(query)}"


async def outbound_call(world) -> dict:
    return await make_activity(world["owner"], type="call", counterpart=CONTACT_PHONE,
                               account_id=world["account_id"], provider_ref="CA1", status="sent")


def dial_params(status: str, duration: int | None = None) -> dict:
    params = {"CallSid": "CA1", "AccountSid": "AC123", "DialCallSid": "CA2", "DialCallStatus": status,
              "CallStatus": "in-progress", "Direction": "outbound-api"}
    if duration is not None:
        params["DialCallDuration"] = str(duration)
    return params


async def test_a_connected_call_long_enough_is_verified(client, world):
    call = await outbound_call(world)
    r = await post(client, call_path(world["org_id"], call["id"], "dial"), dial_params("completed", 45))
    assert r.status_code == 200, r.text
    row = await activity(call["id"])
    assert (row["outcome"], row["duration_s"], row["verification"], row["status"]) == (
        "connected", 45, "verified", "delivered")
    assert row["ended_at"] is not None


async def test_a_short_call_is_not_verified_and_says_why(client, world):
    async with unit_of_work():
        await Organisation.update({Organisation.call_verify_min_s: 20}).where(
            Organisation.id == world["org_id"])
    call = await outbound_call(world)
    await post(client, call_path(world["org_id"], call["id"], "dial"), dial_params("completed", 5))
    row = await activity(call["id"])
    assert (row["outcome"], row["duration_s"], row["verification"]) == ("connected", 5, None)
    assert row["status_detail"] == "connected 5 s; verified calls need 20 s"


async def test_a_busy_customer_fails_the_call(client, world):
    call = await outbound_call(world)
    await post(client, call_path(world["org_id"], call["id"], "dial"), dial_params("busy"))
    row = await activity(call["id"])
    assert (row["outcome"], row["status"], row["verification"]) == ("busy", "failed", None)


async def test_the_parent_leg_completing_marks_the_call_delivered(client, world):
    call = await outbound_call(world)
    params = {"CallSid": "CA1", "CallStatus": "completed", "CallDuration": "60", "Direction": "outbound-api"}
    await post(client, call_path(world["org_id"], call["id"]), params)
    row = await activity(call["id"])
    assert (row["status"], row["outcome"], row["verification"]) == ("delivered", None, None)
    before = await counts()
    await post(client, call_path(world["org_id"], call["id"]), params)
    assert await counts() == before


async def test_an_inbound_call_from_a_contact_is_logged(client, world):
    params = {"CallSid": "CA9", "AccountSid": "AC123", "From": CONTACT_PHONE, "To": ORG_NUMBER,
              "CallStatus": "completed", "CallDuration": "30", "Direction": "inbound"}
    path = f"/api/v1/webhooks/twilio/{world['org_id']}/call"
    assert (await post(client, path, params)).status_code == 200
    assert (await post(client, path, params)).status_code == 200  # replay
    rows = await Activity.select().where(Activity.direction == "in")
    assert len(rows) == 1
    act = rows[0]
    assert (act["type"], act["rep_id"], act["contact_id"], act["outcome"], act["duration_s"],
            act["verification"], act["status"]) == (
        "call", world["owner"].id, world["contact_id"], "connected", 30, "verified", None)


async def test_a_call_the_rep_only_reported_stays_unverified(client, world):
    headers = await auth_headers(client, world["owner"])
    r = await client.post("/api/v1/activities", headers=headers, json={
        "type": "call", "outcome": "connected", "duration_s": 300, "counterpart": CONTACT_PHONE,
        "account_id": str(world["account_id"]), "occurred_at": (utcnow() - timedelta(minutes=10)).isoformat()})
    assert r.status_code == 201, r.text
    assert r.json()["verification"] is None
    assert (await activity(uuid.UUID(r.json()["id"])))["verification"] is None


# -- floods --------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def client_with(settings):
    from server.app import create_app

    transport = httpx.ASGITransport(app=create_app(settings), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        yield c


async def test_a_flood_of_signed_requests_is_cut_off_but_unsigned_ones_cost_nothing(world, settings):
    import msgspec

    path = sms_path(world["org_id"])
    async with client_with(msgspec.structs.replace(settings, webhook_requests_per_minute=5)) as client:
        for _ in range(10):
            assert (await client.post(path, data=sms_params())).status_code == 403
        for _ in range(5):
            assert (await post(client, path, sms_params())).status_code == 200
        before = await counts()
        r = await post(client, path, sms_params())
        assert r.status_code == 429
        assert r.json()["code"] == "rate_limited"
        assert int(r.headers["retry-after"]) >= 1
        assert await counts() == before
        other_org = await make_org()
        assert (await post(client, sms_path(other_org), sms_params(sender=STRANGER))).status_code == 200
