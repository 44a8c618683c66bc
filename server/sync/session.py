"""What every sync request checks first: the device, the schema version, the scope keys."""

from __future__ import annotations

import hashlib
import uuid

import msgspec

from server.access.principal import Principal
from server.access.scope import Scope
from server.auth.tables import Device
from server.common.errors import Forbidden, Invalid, UpgradeRequired
from server.common.time import utcnow
from server.sync.registry import MIN_SCHEMA_VERSION, SCHEMA_VERSION
from server.sync.tables import SyncScope


async def require_device(principal: Principal, device_id: uuid.UUID) -> None:
    """The caller's own, unrevoked device; 403 ``device_not_owned`` otherwise.

    The device the access token was issued to has just been checked by the
    authentication step (session, user and device live, in one statement).
    """
    if principal.device_id == device_id:
        return
    device = await Device.select(Device.id).where(
        (Device.id == device_id) & (Device.org_id == principal.org_id)
        & (Device.user_id == principal.user_id) & Device.revoked_at.is_null()
    ).first()
    if device is None:
        raise Forbidden("this device is not registered to you; log in from it first",
                        code="device_not_owned", field="device_id")


def check_schema_version(version: int) -> None:
    if version < MIN_SCHEMA_VERSION:
        raise UpgradeRequired(
            f"schema version {version} is no longer supported; update the app",
            extra={"min_schema_version": MIN_SCHEMA_VERSION, "schema_version": SCHEMA_VERSION},
        )
    if version > SCHEMA_VERSION:
        raise Invalid(f"this server speaks schema versions up to {SCHEMA_VERSION}",
                      field="schema_version", code="schema_version_unknown")


class ScopeKeys(msgspec.Struct, array_like=True, frozen=True):
    """What a device's view depends on beyond row columns: its team and its directory."""

    members: list[str] | None
    directory: list[str] | None


def scope_keys(scope: Scope) -> ScopeKeys:
    def ids(values):
        return None if values is None else sorted(str(v) for v in values)

    return ScopeKeys(ids(scope.members), ids(scope.directory))


def scope_id(keys: ScopeKeys) -> str:
    return hashlib.sha256(msgspec.json.encode(keys)).hexdigest()[:32]


async def remember_scope(org_id: uuid.UUID, keys: ScopeKeys, known: str | None = None) -> str:
    """Store ``keys`` once (content-addressed) and return their id for cursors.

    ``known`` is an id already stored (the cursor's): the same keys cost no query.
    """
    raw = msgspec.json.encode(keys)
    key_id = scope_id(keys)
    if key_id != known and not await SyncScope.exists().where(SyncScope.id == key_id):
        try:
            await SyncScope.insert(SyncScope(id=key_id, org_id=org_id, keys=raw.decode(), created_at=utcnow()))
        except Exception:
            if not await SyncScope.exists().where(SyncScope.id == key_id):
                raise
    return key_id


#: Stored scope keys never change (content-addressed): a bounded in-process cache saves a query per pull.
_RECALLED: dict[str, ScopeKeys] = {}
_RECALL_CACHE = 4096


async def recall_scope(key_id: str) -> ScopeKeys | None:
    if key_id in _RECALLED:
        return _RECALLED[key_id]
    row = await SyncScope.select(SyncScope.keys).where(SyncScope.id == key_id).first()
    if row is None:
        return None
    keys = msgspec.json.decode(row["keys"], type=ScopeKeys)
    if len(_RECALLED) >= _RECALL_CACHE:
        _RECALLED.clear()
    _RECALLED[key_id] = keys
    return keys
