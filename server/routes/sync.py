"""The native sync protocol: pull, push, checksum, capabilities (see SYNC.md)."""

from __future__ import annotations

import uuid

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody

from server.access.scope import Scope
from server.sync import checksum, pull, push
from server.sync.capabilities import capabilities
from server.sync.schemas import Capabilities, PullIn, PushIn
from server.sync.session import check_schema_version, require_device


def _secret(request: Request) -> bytes:
    return request.app.state.settings.secret_key.encode()


class SyncController(Controller):
    path = "/api/v1/sync"
    tags = ["sync"]

    @post("/pull", operation_id="sync_pull", status_code=200)
    async def pull(self, request: Request, data: JSONBody[PullIn], access: NamedDependency[Scope]) -> pull.PullPage:
        """Changes in the caller's scope since `cursor`, one page at a time (`has_more`)."""
        check_schema_version(data.schema_version)
        await require_device(access.principal, data.device_id)
        return await pull.pull(access, data.device_id, _secret(request), data.cursor, data.schema_version, data.limit,
                               buckets=data.buckets)

    @post("/push", operation_id="sync_push", status_code=200)
    async def push(self, data: JSONBody[PushIn], access: NamedDependency[Scope]) -> push.PushResult:
        """Apply the device's queued mutations exactly once; every one gets a terminal status."""
        check_schema_version(data.schema_version)
        return await push.push(access, data.device_id, data.schema_version, data.mutations)

    @get("/checksum", operation_id="sync_checksum")
    async def checksum(self, request: Request, access: NamedDependency[Scope], device_id: FromQuery[uuid.UUID],
                       cursor: FromQuery[str], schema_version: FromQuery[int]) -> checksum.Checksums:
        """Hashes of (id, version) per id bucket of what the device should hold as of `cursor`."""
        check_schema_version(schema_version)
        await require_device(access.principal, device_id)
        return await checksum.checksums(access, _secret(request), cursor, schema_version)

    @get("/capabilities", operation_id="sync_capabilities")
    async def capabilities(self, request: Request) -> Capabilities:
        """Limits, schema versions, synced tables, column writers and conflict policies."""
        return capabilities(request.app.state.settings.max_body_bytes)
