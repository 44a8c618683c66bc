"""Phones with push tokens, for push tests."""

from __future__ import annotations

import uuid

from server.auth.tables import Device
from server.common.time import utcnow
from server.db.tx import unit_of_work


async def make_device(org_id: uuid.UUID, user_id: uuid.UUID, token: str | None = None, *,
                      provider: str | None = "fcm", revoked: bool = False) -> uuid.UUID:
    """A phone of ``user_id``; ``token`` defaults to a fresh one (pass ``""`` for none)."""
    device_id = uuid.uuid4()
    token = f"tok-{uuid.uuid4().hex}" if token is None else token
    async with unit_of_work():
        await Device.insert(Device(id=device_id, org_id=org_id, user_id=user_id, name="Test phone",
                                   platform="android", push_provider=provider if token else None,
                                   push_token=token or None, revoked_at=utcnow() if revoked else None))
    return device_id


async def token_of(device_id: uuid.UUID) -> str | None:
    row = await Device.select(Device.push_token).where(Device.id == device_id).first()
    return row["push_token"]
