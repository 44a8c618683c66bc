"""Message templates over HTTP (both lanes): who writes, who sees, filling, and sync to phones."""

import uuid

from server.comms.tables import MessageTemplate
from tests.builders import auth_headers, make_org, make_user
from tests.pipeline_builders import make_account, make_contact, make_sales_org
from tests.sync.phone import Phone

URL = "/api/v1/message-templates"
FOLLOW_UP = {"name": "Follow-up", "channel": "email",
             "subject": "{{org.name}} and {{account.name}}",
             "body": "Hi {{contact.first_name|there}}, thanks for your time. {{rep.full_name}}"}


async def test_template_round_trip(client):
    org = await make_sales_org()
    manager = await auth_headers(client, org.manager)
    template_id = str(uuid.uuid4())
    r = await client.post(URL, headers=manager, json={"id": template_id, **FOLLOW_UP})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["id"] == template_id and created["created_by_id"] == str(org.manager.id)
    assert created["active"] is True and r.headers["etag"] == f'"{created["version"]}"'
    sms = await client.post(URL, headers=manager, json={"name": "Running late", "channel": "text",
                                                        "body": "Running 10 min late, {{rep.full_name}}"})
    assert sms.status_code == 201 and sms.json()["subject"] is None

    rep = await auth_headers(client, org.rep)
    listed = await client.get(URL, headers=rep)
    assert [t["name"] for t in listed.json()["items"]] == ["Follow-up", "Running late"]
    texts = await client.get(URL, headers=rep, params={"channel": "text"})
    assert [t["name"] for t in texts.json()["items"]] == ["Running late"]
    got = await client.get(f"{URL}/{template_id}", headers=rep)
    assert got.status_code == 200 and got.json() == created

    admin = await auth_headers(client, org.admin)
    r = await client.patch(f"{URL}/{template_id}", headers={**admin, "If-Match": got.headers["etag"]},
                           json={"active": False, "subject": "Thanks from {{org.name}}"})
    assert r.status_code == 200 and r.json()["active"] is False
    assert r.json()["version"] > created["version"]
    stale = await client.patch(f"{URL}/{template_id}", headers={**admin, "If-Match": got.headers["etag"]},
                               json={"name": "x"})
    assert stale.status_code == 412
    active = await client.get(URL, headers=rep, params={"active": "true"})
    assert [t["name"] for t in active.json()["items"]] == ["Running late"]

    assert (await client.delete(f"{URL}/{template_id}", headers=manager)).status_code == 204
    assert (await client.get(f"{URL}/{template_id}", headers=rep)).status_code == 404
    row = await MessageTemplate.select().where(MessageTemplate.id == uuid.UUID(template_id)).first()
    assert row["deleted_at"] is not None  # a tombstone for sync


async def test_reps_read_but_do_not_write(client):
    org = await make_sales_org()
    manager, rep = await auth_headers(client, org.manager), await auth_headers(client, org.rep)
    r = await client.post(URL, headers=rep, json=FOLLOW_UP)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    template = (await client.post(URL, headers=manager, json=FOLLOW_UP)).json()
    url = f"{URL}/{template['id']}"
    assert (await client.patch(url, headers=rep, json={"name": "Mine"})).status_code == 403
    assert (await client.delete(url, headers=rep)).status_code == 403
    assert (await client.get(url, headers=rep)).json()["name"] == "Follow-up"
    assert await MessageTemplate.count() == 1


async def test_other_orgs_do_not_see_templates(client):
    org = await make_sales_org()
    template = (await client.post(URL, headers=await auth_headers(client, org.admin),
                                  json=FOLLOW_UP)).json()
    other = await make_user(await make_org(), "admin")
    h = await auth_headers(client, other)
    url = f"{URL}/{template['id']}"
    assert (await client.get(url, headers=h)).status_code == 404
    assert (await client.patch(url, headers=h, json={"name": "x"})).status_code == 404
    assert (await client.delete(url, headers=h)).status_code == 404
    account = await make_account(other)
    r = await client.post(f"{url}/render", headers=h, json={"account_id": str(account["id"])})
    assert r.status_code == 404
    assert (await client.get(URL, headers=h)).json()["items"] == []


async def test_render_fills_from_visible_records(client):
    org = await make_sales_org()
    template = (await client.post(URL, headers=await auth_headers(client, org.manager),
                                  json=FOLLOW_UP)).json()
    account = await make_account(org.rep, name="Lee Bakery", city="Brooklyn")
    contact = await make_contact(org.rep, account_id=account["id"], first_name="Ann", last_name="Lee")
    rep = await auth_headers(client, org.rep)
    url = f"{URL}/{template['id']}/render"
    r = await client.post(url, headers=rep, json={"account_id": str(account["id"]),
                                                  "contact_id": str(contact["id"])})
    assert r.status_code == 200, r.text
    rep_name = org.rep.email.split("@")[0]
    assert r.json()["body"] == f"Hi Ann, thanks for your time. {rep_name}"
    assert r.json()["subject"].startswith("Org ") and r.json()["subject"].endswith(" and Lee Bakery")
    # Without a contact the default fills the gap.
    r = await client.post(url, headers=rep, json={"account_id": str(account["id"])})
    assert r.json()["body"] == f"Hi there, thanks for your time. {rep_name}"
    # A contact without a first name falls back to the default too.
    nameless = await make_contact(org.rep, account_id=account["id"], last_name="Lee")
    r = await client.post(url, headers=rep, json={"account_id": str(account["id"]),
                                                  "contact_id": str(nameless["id"])})
    assert r.json()["body"].startswith("Hi there,")
    # Records the caller cannot see answer like missing ones.
    loner = await auth_headers(client, org.loner)
    r = await client.post(url, headers=loner, json={"account_id": str(account["id"])})
    assert r.status_code == 404
    own = await make_account(org.loner)
    r = await client.post(url, headers=loner, json={"account_id": str(own["id"]),
                                                    "contact_id": str(contact["id"])})
    assert r.status_code == 404
    r = await client.post(f"{URL}/{uuid.uuid4()}/render", headers=rep,
                          json={"account_id": str(account["id"])})
    assert r.status_code == 404


async def test_bad_templates_are_refused_with_a_code(client):
    org = await make_sales_org()
    h = await auth_headers(client, org.manager)
    cases = [
        ({**FOLLOW_UP, "body": "Hi {{contact.nickname}}"}, "unknown_placeholder", "body"),
        ({**FOLLOW_UP, "subject": "{{deal.amount}}"}, "unknown_placeholder", "subject"),
        ({**FOLLOW_UP, "body": "Hi {{contact.first_name"}, "malformed_template", "body"),
        ({**FOLLOW_UP, "subject": "two\nlines"}, "invalid_template", "subject"),
        ({**FOLLOW_UP, "channel": "text"}, "invalid_template", "subject"),
        ({**FOLLOW_UP, "channel": "text", "subject": None, "body": "x" * 1601}, "message_too_long", "body"),
        ({**FOLLOW_UP, "channel": "fax"}, "validation_error", "channel"),
    ]
    for body, code, field in cases:
        r = await client.post(URL, headers=h, json=body)
        assert r.status_code == 422, (body, r.text)
        assert (r.json()["code"], r.json()["field"]) == (code, field), r.json()
    assert "contact.nickname" in (await client.post(URL, headers=h, json=cases[0][0])).json()["detail"]
    template = (await client.post(URL, headers=h, json=FOLLOW_UP)).json()
    r = await client.patch(f"{URL}/{template['id']}", headers=h, json={"body": "{{account.nmae}}"})
    assert r.status_code == 422 and r.json()["code"] == "unknown_placeholder"
    r = await client.patch(f"{URL}/{template['id']}", headers=h, json={"channel": "text"})
    assert r.status_code == 422 and r.json()["field"] == "subject"
    r = await client.patch(f"{URL}/{template['id']}", headers=h, json={"channel": "text", "subject": None})
    assert r.status_code == 200 and r.json()["channel"] == "text"
    assert await MessageTemplate.count() == 1


async def test_a_reps_phone_receives_templates_through_sync(client):
    org = await make_sales_org()
    manager = await auth_headers(client, org.manager)
    phone = await Phone(client, org.rep).login()
    await phone.pull()
    template = (await client.post(URL, headers=manager, json=FOLLOW_UP)).json()
    await phone.pull()
    synced = phone.tables["message_templates"][template["id"]]
    assert synced["body"] == FOLLOW_UP["body"] and synced["channel"] == "email"
    await client.patch(f"{URL}/{template['id']}", headers=manager, json={"body": "Hi {{contact.first_name}}"})
    await phone.pull()
    assert phone.tables["message_templates"][template["id"]]["body"] == "Hi {{contact.first_name}}"
    assert (await client.delete(f"{URL}/{template['id']}", headers=manager)).status_code == 204
    await phone.pull()
    assert template["id"] not in phone.ids("message_templates")
