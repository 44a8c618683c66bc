"""A real WatermelonDB client (npm ``@nozbe/watermelondb``, LokiJS, Node) against the real server.

Each test starts ``fieldsales serve`` on its own database (the ``db`` fixture),
creates an organisation and a rep with the CLI as ``tests/test_server.py``
does, logs the rep in with a device id and drives one or more headless phones
(``tests/sync/watermelon.py``) through WatermelonDB's own ``synchronize()``.

Needs Node.js 20+ and npm: the harness's packages are installed with
``npm ci`` on first use. Without Node the tests skip (and fail under CI=true).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.sync.watermelon import WatermelonClient, ensure_node_modules

BIN = Path(sys.executable).parent / "fieldsales"
ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "clients" / "mobile-schema" / "watermelon" / "schema.json"
PASSWORD = "rep password long enough"

#: Used until the generated schema (SCHEMA_FILE) exists.
FALLBACK_SCHEMA = {
    "version": 1,
    "tables": [
        {"name": "accounts", "columns": [
            {"name": "name", "type": "string", "isOptional": False, "isIndexed": False},
            {"name": "status", "type": "string", "isOptional": False, "isIndexed": False},
            {"name": "city", "type": "string", "isOptional": True, "isIndexed": False},
            {"name": "owner_id", "type": "string", "isOptional": True, "isIndexed": True},
            {"name": "version", "type": "number", "isOptional": True, "isIndexed": False},
        ]},
    ],
}


def load_schema() -> dict:
    if SCHEMA_FILE.exists():
        return json.loads(SCHEMA_FILE.read_text())
    return FALLBACK_SCHEMA


def columns_of(schema: dict, table: str) -> set[str]:
    tables = schema["tables"]
    spec = next(t for t in tables if t["name"] == table) if isinstance(tables, list) else tables[table]
    cols = spec["columns"]
    return {c["name"] for c in (cols if isinstance(cols, list) else cols.values())}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(env, *args):
    r = subprocess.run([str(BIN), *args], check=False, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr + r.stdout
    return r.stdout.strip()


@dataclass
class Stack:
    """The running server, one org with a rep, and the phones made so far."""

    base: str
    http: httpx.Client
    org_id: uuid.UUID
    rep_id: str
    rep_email: str
    log_path: Path
    schema: dict
    node: str
    phones: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    warnings: list[str] = field(default_factory=list)

    def server_log(self) -> str:
        return self.log_path.read_text()[-5000:]

    def login(self, device_id: str) -> str:
        r = self.http.post("/api/v1/auth/login", json={"email": self.rep_email, "password": PASSWORD,
                                                       "device_id": device_id, "device_name": "node"})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def phone(self) -> tuple[WatermelonClient, str]:
        """A fresh phone, logged in as the rep with a new device id; returns it and its token."""
        device_id = str(uuid.uuid4())
        token = self.login(device_id)
        phone = self.phones.enter_context(WatermelonClient(node=self.node))
        phone.init(self.base, token, device_id, self.schema)
        return phone, token

    def sync(self, phone: WatermelonClient, **kwargs) -> dict:
        """One ``synchronize()``; fails the test on anything but success."""
        result = phone.sync(**kwargs)
        assert result["ok"], f"{result}\n--- server log:\n{self.server_log()}\n--- client:\n{phone.stderr_tail}"
        self.warnings += result.get("warnings", [])
        return result

    def account_fields(self, **values) -> dict:
        """What a phone fills in for a new account, limited to the columns the schema has."""
        cols = columns_of(self.schema, "accounts")
        values = {"status": "prospect", "owner_id": self.rep_id, **values}
        if "visit_minutes" in cols:
            values.setdefault("visit_minutes", 30)
        return {k: v for k, v in values.items() if k in cols}


@pytest.fixture
def stack(db, tmp_path, capsys):
    node = ensure_node_modules()
    env = {**os.environ, "FIELDSALES_DATABASE_URL": db.url, "FIELDSALES_DATA_DIR": str(tmp_path / "var"),
           "FIELDSALES_SECRET_KEY": "watermelon-test-secret-" + "x" * 40, "FIELDSALES_PASSWORD_TIME_COST": "1"}
    org_id = uuid.UUID(cli(env, "create-org", "--name", "Melon Co"))
    cli(env, "create-user", "--org", str(org_id), "--email", "boss@melon.example", "--role", "admin",
        "--password", "boss password long enough")
    rep_email = "rep@melon.example"
    rep_id = cli(env, "create-user", "--org", str(org_id), "--email", rep_email, "--role", "rep",
                 "--manager", "boss@melon.example", "--password", PASSWORD)

    port = free_port()
    log_path = tmp_path / "server.log"
    log = open(log_path, "w")  # noqa: SIM115
    server = subprocess.Popen([str(BIN), "serve", "--port", str(port)], env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    http = httpx.Client(base_url=base, timeout=60)
    s = Stack(base, http, org_id, rep_id, rep_email, log_path, load_schema(), node)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if http.get("/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, s.server_log()
            time.sleep(0.2)
        yield s
    finally:
        s.phones.close()
        http.close()
        server.terminate()
        server.wait(timeout=15)
        log.close()
        if s.warnings:
            with capsys.disabled():
                print("\nWatermelonDB sync warnings:\n  " + "\n  ".join(s.warnings))


def server_account(s: Stack, token: str, account_id: str) -> httpx.Response:
    return s.http.get(f"/api/v1/accounts/{account_id}", headers=s.headers(token))


def test_account_round_trip_create_edit_delete(stack):
    s = stack
    phone, token = s.phone()
    s.sync(phone)  # first pull: nothing yet
    assert phone.count("accounts") == 0

    # (a) made on the phone -> on the server
    account_id = phone.create("accounts", s.account_fields(name="Acme Widgets", city="Oslo"))
    assert phone.unsynced()
    result = s.sync(phone)
    assert result["pushed"] == 1
    assert not phone.unsynced()
    r = server_account(s, token, account_id)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Acme Widgets" and r.json()["city"] == "Oslo"
    assert r.json()["owner_id"] == s.rep_id

    # (b) edited on the server -> on the phone
    r = s.http.patch(f"/api/v1/accounts/{account_id}", json={"city": "Bergen"}, headers=s.headers(token))
    assert r.status_code == 200, r.text
    server_version = r.json()["version"]
    s.sync(phone)
    local = phone.get("accounts", account_id)
    assert local["city"] == "Bergen" and local["name"] == "Acme Widgets"
    if "version" in local:
        assert local["version"] == server_version
    assert not phone.unsynced()

    # (c) deleted on the phone -> gone on the server
    phone.delete("accounts", account_id)
    assert phone.get("accounts", account_id) is None and phone.unsynced()
    s.sync(phone)
    assert not phone.unsynced()
    assert server_account(s, token, account_id).status_code == 404
    assert phone.count("accounts") == 0

    # A second phone of the same rep starts from the server's state: the account is not there.
    other, _ = s.phone()
    s.sync(other)
    assert other.count("accounts") == 0


def test_conflicting_edit_is_refused_then_resolved_on_retry(stack):
    """(d) The server changes the field the phone changed, after the phone's pull: 409, pull, retry."""
    s = stack
    phone, token = s.phone()
    account_id = phone.create("accounts", s.account_fields(name="Conflict Corp", city="Start"))
    s.sync(phone)
    s.sync(phone)  # settle: the phone has pulled past its own push

    phone.update("accounts", account_id, {"city": "Phone city"})

    def server_edits_same_field(_event):
        # The phone has pulled and is about to push: the server's edit lands after last_pulled_at.
        r = s.http.patch(f"/api/v1/accounts/{account_id}", json={"city": "Server city"},
                         headers=s.headers(token))
        assert r.status_code == 200, r.text

    first = phone.sync(before_push=server_edits_same_field)
    assert not first["ok"] and first["status"] == 409, f"{first}\n{s.server_log()}"
    assert phone.unsynced(), "a refused push must leave the local change pending"

    s.sync(phone)  # WatermelonDB does not retry by itself: pull (resolves locally), then push
    assert not phone.unsynced()
    server = server_account(s, token, account_id).json()
    local = phone.get("accounts", account_id)
    assert local["city"] == server["city"], (local, server)
    assert server["city"] in ("Phone city", "Server city")
    assert local["name"] == server["name"] == "Conflict Corp"

    # A later sync changes nothing: both sides stay converged.
    s.sync(phone)
    assert phone.get("accounts", account_id)["city"] == server_account(s, token, account_id).json()["city"]


def test_edits_to_different_fields_merge_without_losing_either(stack):
    """The phone changes one field, the server another before the push: both survive.

    WatermelonDB pushes whole records, so the first push may be refused (409)
    or accepted; either way, after at most one retry the server's name and the
    phone's city are both kept on both sides (no lost update).
    """
    s = stack
    phone, token = s.phone()
    account_id = phone.create("accounts", s.account_fields(name="Old Name", city="Old City"))
    s.sync(phone)
    s.sync(phone)

    phone.update("accounts", account_id, {"city": "Phone City"})

    def server_renames(_event):
        r = s.http.patch(f"/api/v1/accounts/{account_id}", json={"name": "Server Name"},
                         headers=s.headers(token))
        assert r.status_code == 200, r.text

    first = phone.sync(before_push=server_renames)
    assert first["ok"] or first["status"] == 409, f"{first}\n{s.server_log()}"
    s.sync(phone)
    assert not phone.unsynced()
    server = server_account(s, token, account_id).json()
    local = phone.get("accounts", account_id)
    assert (server["name"], server["city"]) == ("Server Name", "Phone City"), server
    assert (local["name"], local["city"]) == ("Server Name", "Phone City"), local


async def seed_accounts(org_id: uuid.UUID, owner_id: str, n: int) -> None:
    """Insert ``n`` accounts owned by the rep through the shared storage step (server/common/records)."""
    from server.accounts.tables import Account
    from server.common.records import insert_record
    from server.db.tx import unit_of_work

    owner = uuid.UUID(owner_id)
    batch = 1000
    for start in range(0, n, batch):
        async with unit_of_work():
            for i in range(start, min(start + batch, n)):
                await insert_record(Account, org_id, {"name": f"Seeded {i:05d}", "owner_id": owner,
                                                      "status": "customer", "city": "Leeds"})


async def test_first_pull_of_ten_thousand_accounts(stack, capsys):
    """(e) A new phone's first sync brings down 10,000 accounts."""
    s = stack
    n = 10_000
    t0 = time.monotonic()
    await seed_accounts(s.org_id, s.rep_id, n)
    seeded_s = time.monotonic() - t0

    phone, _ = s.phone()
    t0 = time.monotonic()
    result = s.sync(phone, timeout=300)
    wall_s = time.monotonic() - t0
    assert result["pulled"] >= n  # other synced tables may add records
    assert phone.count("accounts") == n
    assert not phone.unsynced()

    a_few = phone.ids("accounts")[:3]
    for account_id in a_few:
        record = phone.get("accounts", account_id)
        assert record["name"].startswith("Seeded ") and record["city"] == "Leeds"
        assert record["owner_id"] == s.rep_id

    # Nothing changed since: the next pull is empty.
    again = s.sync(phone)
    assert again["pulled"] == 0

    with capsys.disabled():
        print(f"\nWatermelonDB first pull of {n} accounts: {wall_s:.2f} s wall "
              f"(server answer {result.get('pull_http_ms')} ms, {result.get('pull_bytes', 0) / 1e6:.1f} MB; "
              f"applied locally in {result['duration_ms'] - result.get('pulled_at_ms', 0)} ms); "
              f"seeding took {seeded_s:.1f} s")
