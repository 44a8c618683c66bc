"""The organisation's settings over HTTP: every member reads, only admins change, each org sees only itself."""

from __future__ import annotations

import pytest

from server.audit.tables import AuditEvent
from tests.builders import auth_headers, make_org, make_user

URL = "/api/v1/org"

EDITABLE = ("name", "timezone", "checkin_radius_m", "call_verify_min_s", "sms_from", "email_from",
            "tombstone_days", "contest_grace_hours")


async def org_with_people():
    org = await make_org()
    admin = await make_user(org, "admin")
    manager = await make_user(org, "manager")
    rep = await make_user(org, manager=manager)
    return org, admin, manager, rep


async def read(client, headers) -> dict:
    r = await client.get(URL, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_every_member_reads_but_only_admins_change(client):
    org, admin, manager, rep = await org_with_people()
    for person in (admin, manager, rep):
        h = await auth_headers(client, person)
        body = await read(client, h)
        assert body["id"] == str(org)
        assert body["checkin_radius_m"] == 100 and body["call_verify_min_s"] == 20
        assert body["tombstone_days"] == 90 and body["timezone"] == "UTC"
        assert body["sms_from"] is None and body["email_from"] is None
        assert body["base_currency"] == "USD" and body["slug"].startswith("org-")
    for person in (manager, rep):
        h = await auth_headers(client, person)
        r = await client.patch(URL, json={"checkin_radius_m": 250}, headers=h)
        assert r.status_code == 403, r.text
        assert r.json()["code"] == "admin_only"
    assert (await read(client, await auth_headers(client, admin)))["checkin_radius_m"] == 100


async def test_unauthenticated_callers_get_401(client):
    assert (await client.get(URL)).status_code == 401
    assert (await client.patch(URL, json={"name": "X"})).status_code == 401


async def test_admin_changes_each_field_and_reads_it_back(client):
    org, admin, _, rep = await org_with_people()
    h = await auth_headers(client, admin)
    before = await read(client, h)
    changes = {
        "name": "  Acme Field Sales  ",
        "timezone": "Europe/Berlin",
        "checkin_radius_m": 250,
        "call_verify_min_s": 45,
        "sms_from": "(415) 555-0123",
        "email_from": "Sales@Acme.example",
        "tombstone_days": 180,
        "contest_grace_hours": 24,
    }
    stored = {**changes, "name": "Acme Field Sales", "sms_from": "+14155550123",
              "email_from": "sales@acme.example"}
    for field, value in changes.items():
        r = await client.patch(URL, json={field: value}, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()[field] == stored[field]
    after = await read(client, await auth_headers(client, rep))
    assert {f: after[f] for f in EDITABLE} == stored
    assert after["slug"] == before["slug"] and after["base_currency"] == before["base_currency"]
    assert after["updated_at"] > before["updated_at"]
    events = await AuditEvent.select(AuditEvent.action, AuditEvent.detail).where(
        (AuditEvent.org_id == org) & (AuditEvent.entity == "organisations")).output(load_json=True)
    assert {e["action"] for e in events} == {"organisation.updated"}
    assert {f for e in events for f in e["detail"]["fields"]} == set(EDITABLE)
    radius = next(e["detail"]["changes"]["checkin_radius_m"] for e in events
                  if e["detail"]["fields"] == ["checkin_radius_m"])
    assert radius == {"from": 100, "to": 250}


async def test_several_fields_at_once_and_a_repeat_changes_nothing(client):
    org, admin, *_ = await org_with_people()
    h = await auth_headers(client, admin)
    body = {"checkin_radius_m": 10, "call_verify_min_s": 0, "tombstone_days": 3650}
    first = await client.patch(URL, json=body, headers=h)
    assert first.status_code == 200, first.text
    again = await client.patch(URL, json=body, headers=h)
    assert again.status_code == 200
    assert again.json() == first.json()  # same values: updated_at stays
    assert await AuditEvent.count().where(AuditEvent.org_id == org) == 1


async def test_clearing_the_sending_identities_with_null(client):
    _, admin, *_ = await org_with_people()
    h = await auth_headers(client, admin)
    r = await client.patch(URL, json={"sms_from": "+442071838750", "email_from": "hello@acme.example"},
                           headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["sms_from"] == "+442071838750"
    r = await client.patch(URL, json={"sms_from": None}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["sms_from"] is None and r.json()["email_from"] == "hello@acme.example"
    r = await client.patch(URL, json={"email_from": None}, headers=h)
    assert r.json()["email_from"] is None
    body = await read(client, h)
    assert body["sms_from"] is None and body["email_from"] is None


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({"checkin_radius_m": 0}, 422, "validation_error", "checkin_radius_m"),
    ({"checkin_radius_m": 5001}, 422, "validation_error", "checkin_radius_m"),
    ({"checkin_radius_m": "wide"}, 422, "validation_error", "checkin_radius_m"),
    ({"call_verify_min_s": -1}, 422, "validation_error", "call_verify_min_s"),
    ({"call_verify_min_s": 3601}, 422, "validation_error", "call_verify_min_s"),
    ({"tombstone_days": 29}, 422, "validation_error", "tombstone_days"),
    ({"contest_grace_hours": -1}, 422, "validation_error", "contest_grace_hours"),
    ({"timezone": "Mars/Olympus_Mons"}, 422, "invalid", "timezone"),
    ({"timezone": "../../etc/passwd"}, 422, "invalid", "timezone"),
    ({"sms_from": "not a phone"}, 422, "invalid_phone", "sms_from"),
    ({"sms_from": "12"}, 422, "invalid_phone", "sms_from"),
    ({"email_from": "sales.acme.example"}, 422, "invalid_email", "email_from"),
    ({"email_from": "sales@"}, 422, "invalid_email", "email_from"),
    ({"email_from": "sales@acme.example\r\nBcc: all@x.example"}, 422, "invalid_email", "email_from"),
    ({"name": ""}, 422, "validation_error", "name"),
    ({"name": "   "}, 422, "name_required", "name"),
    ({"name": "x" * 201}, 422, "validation_error", "name"),
    ({"slug": "renamed"}, 422, "validation_error", "slug"),
    ({"base_currency": "EUR"}, 422, "validation_error", "base_currency"),
    ({"checkin_radius_m": 200, "colour": "blue"}, 422, "validation_error", "colour"),
])
async def test_bad_values_are_refused_and_change_nothing(client, body, status, code, field):
    org, admin, *_ = await org_with_people()
    h = await auth_headers(client, admin)
    before = await read(client, h)
    r = await client.patch(URL, json=body, headers=h)
    assert r.status_code == status, r.text
    problem = r.json()
    assert problem["code"] == code
    assert problem["field"] == field
    assert await read(client, h) == before
    assert await AuditEvent.count().where(AuditEvent.org_id == org) == 0


async def test_each_org_sees_and_changes_only_itself(client):
    org_a, admin_a, *_ = await org_with_people()
    org_b, admin_b, _, rep_b = await org_with_people()
    ha, hb = await auth_headers(client, admin_a), await auth_headers(client, admin_b)
    assert (await read(client, ha))["id"] == str(org_a)
    assert (await read(client, hb))["id"] == str(org_b)
    r = await client.patch(URL, json={"name": "Taken over", "checkin_radius_m": 999}, headers=hb)
    assert r.status_code == 200 and r.json()["id"] == str(org_b)
    a = await read(client, ha)
    assert a["name"] != "Taken over" and a["checkin_radius_m"] == 100
    assert (await read(client, await auth_headers(client, rep_b)))["checkin_radius_m"] == 999
    # No org id is taken from the path or the query: asking for another org still answers with one's own.
    r = await client.get(f"{URL}/{org_a}", headers=hb)
    assert r.status_code in (404, 405)
    assert (await client.get(URL, params={"id": str(org_a)}, headers=hb)).json()["id"] == str(org_b)


def _expected_webhooks(base: str, org) -> dict:
    return {
        "sms": f"{base}/api/v1/webhooks/twilio/{org}/sms",
        "status": f"{base}/api/v1/webhooks/twilio/{org}/status",
        "call": f"{base}/api/v1/webhooks/twilio/{org}/call",
        "email": f"{base}/api/v1/webhooks/email/{org}",
    }


async def test_webhook_urls_use_the_request_base_without_public_url(client):
    org, admin, *_ = await org_with_people()
    body = await read(client, await auth_headers(client, admin))
    assert body["webhooks"] == _expected_webhooks("http://testserver", org)


@pytest.fixture
async def public_client(db, tmp_path):
    """Like ``client``, on an app whose ``public_url`` is set (with a trailing slash to be trimmed)."""
    import httpx

    from server.app import create_app
    from server.config import load_settings

    settings = load_settings(database_url=db.url, secret_key="test-secret-" + "x" * 40,
                             data_dir=str(tmp_path / "var"), password_time_cost=1,
                             public_url="https://api.acme.example/")
    transport = httpx.ASGITransport(app=create_app(settings), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://internal:8000") as c:
        yield c


async def test_webhook_urls_use_public_url_when_set(public_client):
    org, admin, *_ = await org_with_people()
    h = await auth_headers(public_client, admin)
    assert (await read(public_client, h))["webhooks"] == _expected_webhooks("https://api.acme.example", org)
    r = await public_client.patch(URL, json={"checkin_radius_m": 300}, headers=h)
    assert r.json()["webhooks"] == _expected_webhooks("https://api.acme.example", org)
