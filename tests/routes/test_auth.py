"""Login, refresh rotation and reuse detection, logout, devices, rate limit."""

import uuid

from tests.builders import PASSWORD, auth_headers, bearer, login, make_org, make_user


async def test_login_returns_tokens_and_user(client):
    org = await make_org()
    rep = await make_user(org, "rep")
    tokens = await login(client, rep)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0
    assert tokens["user"]["email"] == rep.email and "password_hash" not in tokens["user"]
    me = await client.get("/api/v1/me", headers=bearer(tokens))
    assert me.status_code == 200 and me.json()["id"] == str(rep.id)


async def test_wrong_password_and_unknown_email_look_the_same(client):
    org = await make_org()
    rep = await make_user(org)
    bad = await client.post("/api/v1/auth/login", json={"email": rep.email, "password": "nope-nope"})
    unknown = await client.post("/api/v1/auth/login", json={"email": "x@example.com", "password": "nope"})
    assert bad.status_code == unknown.status_code == 401
    assert bad.json()["code"] == unknown.json()["code"] == "invalid_credentials"
    assert bad.headers["content-type"].startswith("application/problem+json")


async def test_login_is_rate_limited(client):
    org = await make_org()
    rep = await make_user(org)
    codes = [
        (await client.post("/api/v1/auth/login", json={"email": rep.email, "password": "wrong-pass"})).status_code
        for _ in range(6)
    ]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    r = await client.post("/api/v1/auth/login", json={"email": rep.email, "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert r.json()["code"] == "rate_limited"


async def test_refresh_rotates_and_reuse_revokes_the_family(client):
    org = await make_org()
    rep = await make_user(org)
    first = await login(client, rep)
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get("/api/v1/me", headers=bearer(second))).status_code == 200
    # The old refresh token is spent: presenting it again is theft or a replay.
    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401 and reuse.json()["code"] == "token_reused"
    # ...and the whole family ends: the newest tokens stop working too.
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert again.status_code == 401 and again.json()["code"] == "session_revoked"
    assert (await client.get("/api/v1/me", headers=bearer(second))).status_code == 401
    # Another login of the same user is a separate family and still works.
    assert (await client.get("/api/v1/me", headers=await auth_headers(client, rep))).status_code == 200


async def test_logout_ends_the_session(client):
    org = await make_org()
    rep = await make_user(org)
    tokens = await login(client, rep)
    assert (await client.post("/api/v1/auth/logout", headers=bearer(tokens))).status_code == 204
    assert (await client.get("/api/v1/me", headers=bearer(tokens))).status_code == 401
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401


async def test_revoked_device_tokens_stop_at_once(client):
    org = await make_org()
    manager = await make_user(org, "manager")
    rep = await make_user(org, "rep", manager=manager)
    phone = uuid.uuid4()
    tokens = await login(client, rep, device_id=phone)
    assert tokens["device_id"] == str(phone)
    listed = await client.get(f"/api/v1/users/{rep.id}/devices", headers=await auth_headers(client, manager))
    assert [d["id"] for d in listed.json()] == [str(phone)]
    r = await client.post(f"/api/v1/devices/{phone}/revoke", headers=await auth_headers(client, manager))
    assert r.status_code == 200 and r.json()["revoked_at"]
    me = await client.get("/api/v1/me", headers=bearer(tokens))
    assert me.status_code == 401 and me.json()["code"] in ("device_revoked", "session_revoked")
    assert (await client.post("/api/v1/auth/refresh",
                              json={"refresh_token": tokens["refresh_token"]})).status_code == 401
    relogin = await client.post("/api/v1/auth/login", json={
        "email": rep.email, "password": PASSWORD, "device_id": str(phone)})
    assert relogin.status_code == 403 and relogin.json()["code"] == "device_revoked"


async def test_devices_of_others_are_hidden(client):
    org = await make_org()
    rep = await make_user(org)
    other = await make_user(org)
    phone = uuid.uuid4()
    await login(client, rep, device_id=phone)
    headers = await auth_headers(client, other)
    assert (await client.get(f"/api/v1/users/{rep.id}/devices", headers=headers)).status_code == 404
    assert (await client.post(f"/api/v1/devices/{phone}/revoke", headers=headers)).status_code == 404
    # A device id belongs to one user.
    taken = await client.post("/api/v1/auth/login", json={
        "email": other.email, "password": PASSWORD, "device_id": str(phone)})
    assert taken.status_code == 409 and taken.json()["code"] == "device_conflict"


async def test_bad_tokens_are_refused(client):
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}):
        r = await client.get("/api/v1/me", headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["code"] in ("token_missing", "token_invalid")
