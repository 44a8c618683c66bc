"""Bookkeeping tables of the sync protocol (the synced data lives in the feature tables)."""

from piccolo.columns import (
    UUID,
    BigInt,
    BigSerial,
    ForeignKey,
    LazyTableReference,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class SyncMutation(Table, tablename="sync_mutations"):
    """The result given for one applied push mutation: a retried batch gets it again."""

    id = BigSerial(primary_key=True)
    org_id = UUID()
    device_id = ForeignKey(LazyTableReference("Device", module_path="server.auth.tables"))
    mutation_id = BigInt()
    result = Text()  # the msgspec-encoded MutationResult
    #: What it wrote: the device's next pull leaves this (row, version) out (no echo).
    table_name = Varchar(length=40, null=True, default=None)
    row_id = UUID(null=True, default=None)
    version = BigInt(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class SyncMove(Table, tablename="sync_moves"):
    """A row whose holders changed at ``version``; ``holders`` lists who held it before."""

    id = BigSerial(primary_key=True)
    org_id = UUID()
    version = BigInt()
    table_name = Varchar(length=40)
    row_id = UUID()
    holders = Text(default="")  # comma-separated user ids
    created_at = Timestamptz(default=TimestamptzNow())


class SyncScope(Table, tablename="sync_scopes"):
    """The scope keys a cursor was issued under, stored once per distinct key set."""

    id = Varchar(length=64, primary_key=True)
    org_id = UUID()
    keys = Text()
    created_at = Timestamptz(default=TimestamptzNow())
