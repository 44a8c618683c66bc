"""The published limits and table policies are the ones enforced."""

from server.sync.push import MAX_MUTATIONS
from server.sync.registry import MIN_SCHEMA_VERSION, SCHEMA_VERSION
from tests.pipeline_builders import make_sales_org
from tests.sync.phone import Phone


async def test_capabilities_describe_limits_versions_and_policies(client):
    org = await make_sales_org()
    phone = await Phone(client, org.rep).login()
    r = await client.get("/api/v1/sync/capabilities", headers=phone.headers)
    assert r.status_code == 200
    body = r.json()
    assert (body["schema_version"], body["min_schema_version"]) == (SCHEMA_VERSION, MIN_SCHEMA_VERSION)
    assert body["limits"]["max_mutations_per_push"] == MAX_MUTATIONS
    tables = {t["name"]: t for t in body["tables"]}
    assert {"accounts", "contacts", "leads", "opportunities", "activities", "tasks", "appointments",
            "territories", "users"} <= set(tables)
    columns = {c["name"]: c for c in tables["opportunities"]["columns"]}
    assert columns["amount"]["conflict_policy"] == "reject" and columns["name"]["conflict_policy"] == "last_writer_wins"
    activity = {c["name"]: c for c in tables["activities"]["columns"]}
    assert activity["type"]["writer"] == "insert" and activity["body"]["writer"] == "both"
    assert activity["verification"]["writer"] == "server"
    assert tables["territories"]["client_writable"] is False and tables["territories"]["since"] == 2
    assert (await client.get("/api/v1/sync/capabilities")).status_code == 401
