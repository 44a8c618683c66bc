"""The real thing: the `fieldsales` CLI creates an org and a user, `serve` starts, a client logs in."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent / "fieldsales"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(env, *args, input=None):
    r = subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=60, input=input)
    assert r.returncode == 0, r.stderr + r.stdout
    return r.stdout.strip()


async def test_cli_and_server_end_to_end(db, tmp_path):
    env = {**os.environ, "FIELDSALES_DATABASE_URL": db.url, "FIELDSALES_DATA_DIR": str(tmp_path / "var")}
    env.pop("FIELDSALES_SECRET_KEY", None)
    assert "applied 0 migration" in cli(env, "migrate")
    org_id = cli(env, "create-org", "--name", "Smoke Test Co")
    cli(env, "create-user", "--org", "smoke-test-co", "--email", "boss@smoke.example", "--role", "admin",
        "--password", "long enough secret")
    cli(env, "create-user", "--org", org_id, "--email", "rep@smoke.example", "--role", "rep",
        "--manager", "boss@smoke.example", "--password", "another secret!")
    bad = subprocess.run([str(BIN), "create-user", "--org", "nope", "--email", "x@y.z", "--password", "x" * 10],
                         env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "no organisation" in bad.stderr
    # The secret key was generated beside the data, readable by its owner only.
    key = tmp_path / "var" / "secret_key"
    assert key.exists() and oct(key.stat().st_mode)[-3:] == "600"

    port = free_port()
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115
    server = subprocess.Popen([str(BIN), "serve", "--port", str(port)], env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if (await http.get("/health/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(0.2)
            assert (await http.get("/health/live")).json() == {"status": "ok"}
            r = await http.post("/api/v1/auth/login", json={"email": "rep@smoke.example",
                                                            "password": "another secret!"})
            assert r.status_code == 200 and r.headers["x-request-id"]
            me = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
            assert me.json()["email"] == "rep@smoke.example"
            spec = await http.get("/schema/openapi.json")
            assert spec.status_code == 200 and "accounts_list" in spec.text
            docs = await http.get("/schema/swagger")
            assert docs.status_code == 200 and "/schema/assets/swagger-ui-bundle.js" in docs.text
            asset = await http.get("/schema/assets/swagger-ui-bundle.js")
            assert asset.status_code == 200 and len(asset.content) > 100_000
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()
