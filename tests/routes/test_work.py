"""Tasks and appointments through HTTP: the wire shape, assignment rules, isolation."""

from datetime import datetime, timedelta, timezone

from tests.activity_builders import make_appointment, make_task
from tests.builders import auth_headers, make_org, make_user


def slot(hours_from_now: int = 24, length_min: int = 60) -> dict:
    start = datetime.now(timezone.utc) + timedelta(hours=hours_from_now)
    return {"starts_at": start.isoformat(), "ends_at": (start + timedelta(minutes=length_min)).isoformat()}


async def test_task_lifecycle(client):
    org = await make_org()
    manager = await make_user(org, "manager")
    rep = await make_user(org, manager=manager)
    hm, hr = await auth_headers(client, manager), await auth_headers(client, rep)
    due = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    r = await client.post("/api/v1/tasks", json={"title": "Bring samples", "due_at": due,
                                                 "assignee_id": str(rep.id)}, headers=hm)
    assert r.status_code == 201, r.text
    task = r.json()
    assert task["assignee_id"] == str(rep.id) and task["created_by_id"] == str(manager.id)
    assert task["status"] == "open" and task["completed_at"] is None
    listed = await client.get("/api/v1/tasks", params={"assignee_id": str(rep.id), "status": "open"}, headers=hr)
    assert [t["id"] for t in listed.json()["items"]] == [task["id"]]
    done = await client.patch(f"/api/v1/tasks/{task['id']}", json={"status": "done"},
                              headers={**hr, "If-Match": f'"{task["version"]}"'})
    assert done.status_code == 200 and done.json()["completed_at"]
    stale = await client.patch(f"/api/v1/tasks/{task['id']}", json={"title": "x"},
                               headers={**hr, "If-Match": f'"{task["version"]}"'})
    assert stale.status_code == 412
    # A rep hands work only to themselves.
    r = await client.post("/api/v1/tasks", json={"title": "Yours", "assignee_id": str(manager.id)}, headers=hr)
    assert r.status_code == 403 and r.json()["field"] == "assignee_id"
    assert (await client.delete(f"/api/v1/tasks/{task['id']}", headers=hm)).status_code == 204
    assert (await client.get(f"/api/v1/tasks/{task['id']}", headers=hr)).status_code == 404


async def test_appointment_lifecycle(client):
    org = await make_org()
    rep = await make_user(org)
    h = await auth_headers(client, rep)
    r = await client.post("/api/v1/appointments", json={"title": "Demo", **slot(), "location": "HQ"}, headers=h)
    assert r.status_code == 201, r.text
    appt = r.json()
    assert appt["assignee_id"] == str(rep.id) and appt["status"] == "scheduled"
    backwards = await client.post("/api/v1/appointments", json={"title": "Oops", **slot(length_min=-30)},
                                  headers=h)
    assert backwards.status_code == 422 and backwards.json()["field"] == "ends_at"
    bad_place = await client.post("/api/v1/appointments", json={"title": "Sea", **slot(), "lat": 95, "lng": 0},
                                  headers=h)
    assert bad_place.status_code == 422 and bad_place.json()["field"] == "lat"
    moved = await client.patch(f"/api/v1/appointments/{appt['id']}", json={**slot(48), "status": "cancelled"},
                               headers=h)
    assert moved.status_code == 200 and moved.json()["status"] == "cancelled"
    early = await client.get("/api/v1/appointments", params={
        "starts_before": (datetime.now(timezone.utc) + timedelta(hours=30)).isoformat()}, headers=h)
    assert early.status_code == 200 and early.json()["items"] == []


async def test_other_orgs_work_is_unreachable(client):
    org_a, org_b = await make_org(), await make_org()
    rep_a = await make_user(org_a)
    admin_b = await make_user(org_b, "admin")
    task, appointment = await make_task(admin_b), await make_appointment(admin_b)
    h = await auth_headers(client, rep_a)
    for url in (f"/api/v1/tasks/{task['id']}", f"/api/v1/appointments/{appointment['id']}"):
        assert (await client.get(url, headers=h)).status_code == 404
        assert (await client.patch(url, json={"title": "mine"}, headers=h)).status_code == 404
        assert (await client.delete(url, headers=h)).status_code == 404
    assert (await client.get("/api/v1/tasks", headers=h)).json()["items"] == []
    assert (await client.get("/api/v1/appointments", headers=h)).json()["items"] == []
    r = await client.post("/api/v1/tasks", json={"title": "x", "assignee_id": str(admin_b.id)}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "unknown_user"
