"""Request bodies of the sync endpoints (responses are defined beside their services)."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec

from server.sync.push import Mutation

SchemaVersion = Annotated[int, msgspec.Meta(ge=0, description="The phone app's local schema version")]


class PullIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    device_id: uuid.UUID
    schema_version: SchemaVersion
    #: ``null`` on the first sync, then the cursor of the last page applied.
    cursor: str | None = None
    limit: Annotated[int, msgspec.Meta(ge=1)] | None = None
    #: Re-pull only these id buckets of these tables (after a checksum mismatch).
    buckets: dict[str, list[Annotated[int, msgspec.Meta(ge=0, le=255)]]] | None = None


class PushIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    device_id: uuid.UUID
    schema_version: SchemaVersion
    mutations: list[Mutation]


class Limits(msgspec.Struct):
    max_mutations_per_push: int
    max_page_rows: int
    default_page_rows: int
    max_page_bytes: int
    max_body_bytes: int
    checksum_buckets: int


class ColumnInfo(msgspec.Struct):
    name: str
    type: str
    writer: str
    since: int
    conflict_policy: str


class TableInfo(msgspec.Struct):
    name: str
    since: int
    conflict_policy: str
    client_writable: bool
    columns: list[ColumnInfo]


class Capabilities(msgspec.Struct):
    schema_version: int
    min_schema_version: int
    limits: Limits
    tables: list[TableInfo]
    timestamps: str = "integer milliseconds since the Unix epoch (UTC)"
