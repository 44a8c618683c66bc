"""Integrity checks: per table, hashes of (id, version) in fixed id buckets (SYNC.md guarantee 11).

A row's bucket is the value of the last two hex digits of its id (0-255: the
random end of a UUIDv7 or v4, so buckets fill evenly). A bucket's hash is the
sum, modulo 2**64, of ``blake2b("<id>:<version>", digest_size=8)`` read as a
big-endian integer, over the live rows the device should hold; phones compute
the same over their local rows and re-pull only the buckets that differ
(``POST /sync/pull`` with ``buckets``). Rows changed after the cursor are listed
so the phone can leave them out of its side (it will get them on its next pull).
"""

from __future__ import annotations

import hashlib
import uuid

import msgspec

from server.access.scope import Scope
from server.common.errors import Conflict
from server.sync import cursor as cursors
from server.sync.registry import tables_for

BUCKETS = 256
#: Above this many rows changed after the cursor, the phone should pull first.
MAX_CHANGED_AFTER = 1000


def bucket_of(record_id: str | uuid.UUID) -> int:
    return int(str(record_id)[-2:], 16)


def row_hash(record_id: str | uuid.UUID, version: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"{record_id}:{version}".encode(), digest_size=8).digest(), "big")


def bucket_hashes(rows: list[tuple[str, int]]) -> dict[int, tuple[int, int]]:
    """(id, version) pairs -> {bucket: (row count, hash)}. Pure; phones run the same."""
    out: dict[int, list[int]] = {}
    for record_id, version in rows:
        entry = out.setdefault(bucket_of(record_id), [0, 0])
        entry[0] += 1
        entry[1] = (entry[1] + row_hash(record_id, version)) % 2**64
    return {b: (n, h) for b, (n, h) in out.items()}


class Bucket(msgspec.Struct, array_like=True):
    bucket: int
    count: int
    hash: str  # 16 hex digits


class TableChecksum(msgspec.Struct):
    count: int
    buckets: list[Bucket]
    #: Rows in scope changed after the cursor: leave them out of the local side.
    changed_after: list[str]


class Checksums(msgspec.Struct):
    as_of: int
    bucket_count: int
    tables: dict[str, TableChecksum]


async def checksums(scope: Scope, secret: bytes, token: str, schema_version: int) -> Checksums:
    cur = cursors.decode(token, secret, org_id=scope.org_id, user_id=scope.principal.user_id)
    if not cur.done:
        raise Conflict("finish the pull session (has_more: false) before asking for checksums",
                       code="pull_in_progress", field="cursor")
    out: dict[str, TableChecksum] = {}
    for spec in tables_for(schema_version):
        table = spec.table
        rows = await table.select(table._meta.primary_key, table.version).where(  # type: ignore[attr-defined]
            spec.scope(scope) & table.deleted_at.is_null()  # type: ignore[attr-defined]
        )
        held = [(str(r["id"]), r["version"]) for r in rows if r["version"] <= cur.target]
        later = [str(r["id"]) for r in rows if r["version"] > cur.target]
        if len(later) > MAX_CHANGED_AFTER:
            raise Conflict("much has changed since this cursor; pull, then ask again", code="pull_first",
                           field="cursor")
        hashes = bucket_hashes(held)
        out[spec.name] = TableChecksum(
            count=len(held),
            buckets=[Bucket(b, n, f"{h:016x}") for b, (n, h) in sorted(hashes.items())],
            changed_after=sorted(later),
        )
    return Checksums(as_of=cur.target, bucket_count=BUCKETS, tables=out)
