"""What a phone needs to know before it syncs: limits, schema versions, tables and policies."""

from __future__ import annotations

from server.sync.checksum import BUCKETS
from server.sync.pull import DEFAULT_PAGE_ROWS, MAX_PAGE_BYTES, MAX_PAGE_ROWS
from server.sync.push import MAX_MUTATIONS
from server.sync.registry import MIN_SCHEMA_VERSION, SCHEMA_VERSION, TABLES
from server.sync.schemas import Capabilities, ColumnInfo, Limits, TableInfo


def capabilities(max_body_bytes: int) -> Capabilities:
    tables = []
    for spec in TABLES:
        writers = spec.writers
        columns = [
            ColumnInfo(name=name, type=kind, writer=writers[name], since=spec.column_since.get(name, spec.since),
                       conflict_policy=spec.policy_of(name))
            for name, kind in spec.columns.items()
        ]
        tables.append(TableInfo(name=spec.name, since=spec.since, conflict_policy=spec.policy,
                                client_writable=spec.writes is not None, columns=columns))
    limits = Limits(max_mutations_per_push=MAX_MUTATIONS, max_page_rows=MAX_PAGE_ROWS,
                    default_page_rows=DEFAULT_PAGE_ROWS, max_page_bytes=MAX_PAGE_BYTES,
                    max_body_bytes=max_body_bytes, checksum_buckets=BUCKETS)
    return Capabilities(schema_version=SCHEMA_VERSION, min_schema_version=MIN_SCHEMA_VERSION,
                        limits=limits, tables=tables)
