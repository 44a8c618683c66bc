"""WatermelonDB-compatible sync (`synchronize()` with no custom glue); see server/sync/watermelon.py."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, HeaderParameter, JSONBody

from server.access.scope import Scope
from server.common.errors import Invalid
from server.sync import watermelon
from server.sync.registry import SCHEMA_VERSION
from server.sync.session import check_schema_version

DeviceHeader = Annotated[uuid.UUID, HeaderParameter(name="X-Device-Id")]


class WatermelonPushIn(msgspec.Struct):
    changes: dict[str, dict[str, list[Any]]]


class WatermelonPushOut(msgspec.Struct):
    experimentalRejectedIds: dict[str, list[str]]


def _migration(raw: str | None) -> watermelon.Migration | None:
    if not raw or raw == "null":
        return None
    try:
        return msgspec.json.decode(raw, type=watermelon.Migration)
    except msgspec.DecodeError as exc:
        raise Invalid(f"migration: {exc}", field="migration") from None


class WatermelonController(Controller):
    path = "/api/v1/sync/watermelon"
    tags = ["sync"]

    @get("/", operation_id="sync_watermelon_pull")
    async def pull(self, request: Request, access: NamedDependency[Scope], device_id: DeviceHeader,
                   schema_version: FromQuery[int], last_pulled_at: FromQuery[int | None] = None,
                   migration: FromQuery[str | None] = None) -> dict[str, Any]:
        """`pullChanges`: `{changes, timestamp}` since `last_pulled_at` (a change-log position)."""
        check_schema_version(schema_version)
        return await watermelon.pull(access, device_id, request.app.state.settings.secret_key.encode(),
                                     last_pulled_at, schema_version, _migration(migration))

    @post("/", operation_id="sync_watermelon_push", status_code=200)
    async def push(self, access: NamedDependency[Scope], device_id: DeviceHeader, data: JSONBody[WatermelonPushIn],
                   last_pulled_at: FromQuery[int], schema_version: FromQuery[int | None] = None) -> WatermelonPushOut:
        """`pushChanges`: all-or-nothing; invalid records set aside; 409 on a real conflict."""
        version = schema_version or SCHEMA_VERSION
        check_schema_version(version)
        out = await watermelon.push(access, device_id, last_pulled_at, version, data.changes)
        return WatermelonPushOut(experimentalRejectedIds=out["experimentalRejectedIds"])
