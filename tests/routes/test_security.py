"""Every route needs a token unless it is on the short public list."""

import re
import uuid

import pytest

from server.app import create_app
from server.config import load_settings
from server.routes.security import PUBLIC_PATHS


def api_routes():
    app = create_app(load_settings(database_url="sqlite:///:memory:", secret_key="s" * 40,
                                   data_dir="/tmp/fieldsales-test-unused"))
    for route in app.routes:
        for method in sorted(getattr(route, "methods", ())):
            if method in ("HEAD", "OPTIONS"):
                continue
            path = re.sub(r"\{(\w+):uuid\}", str(uuid.uuid4()), route.path)
            path = re.sub(r"\{(\w+):\w+\}", "x", path)
            yield method, route.path, path


def test_public_routes_are_only_login_refresh_health_docs_and_signed_webhooks():
    public = sorted({raw for _, raw, _ in api_routes() if any(re.match(p, raw) for p in PUBLIC_PATHS)})
    assert all(p.startswith(("/health/", "/schema", "/api/v1/auth/login", "/api/v1/auth/refresh",
                             "/api/v1/webhooks/"))
               for p in public), public


@pytest.mark.parametrize("method,raw,path", [r for r in api_routes() if r[1].startswith("/api/v1/webhooks/")])
async def test_webhooks_refuse_unsigned_callers(client, method, raw, path):
    """No bearer token here: a webhook is authenticated by the provider's signature, or refused."""
    r = await client.request(method, path, data={"MessageSid": "SM1", "From": "+14155550100"})
    assert r.status_code == 403, (method, raw, r.status_code, r.text)
    assert r.json()["code"] == "invalid_signature"


@pytest.mark.parametrize("method,raw,path", [r for r in api_routes() if r[1].startswith("/api/")])
async def test_route_refuses_anonymous_callers(client, method, raw, path):
    if any(re.match(p, raw) for p in PUBLIC_PATHS):
        return
    r = await client.request(method, path, json={} if method in ("POST", "PUT", "PATCH") else None)
    assert r.status_code == 401, (method, raw, r.status_code)
    assert r.json()["code"] == "token_missing"
