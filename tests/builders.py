"""Plain async builders for test data (no factory library)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from server.db.tx import unit_of_work
from server.orgs.service import create_org
from server.users.service import create_user

PASSWORD = "correct horse battery"


@dataclass
class Person:
    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    role: str


async def make_org(name: str | None = None) -> uuid.UUID:
    async with unit_of_work():
        return await create_org(name or f"Org {uuid.uuid4().hex[:8]}")


async def make_user(org_id: uuid.UUID, role: str = "rep", manager: Person | None = None,
                    email: str | None = None) -> Person:
    email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    async with unit_of_work():
        user_id = await create_user(org_id, email=email, password=PASSWORD, full_name=email.split("@")[0],
                                    role=role, manager_id=manager.id if manager else None,
                                    password_time_cost=1)
    return Person(user_id, org_id, email, role)


async def login(client, person: Person, device_id: uuid.UUID | None = None) -> dict:
    body = {"email": person.email, "password": PASSWORD}
    if device_id:
        body |= {"device_id": str(device_id), "device_name": "Test phone", "platform": "android"}
    r = await client.post("/api/v1/auth/login", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def auth_headers(client, person: Person) -> dict[str, str]:
    return bearer(await login(client, person))
