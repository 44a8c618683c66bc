"""Columns shared by every table that phones sync (see SYNC.md).

``version`` is assigned by the server in commit order (``server.db.clock``);
``deleted_at`` makes a delete a tombstone that pulls can still deliver;
``field_versions`` says which version last changed each column.
"""

from piccolo.columns import (
    JSON,
    UUID,
    BigInt,
    ForeignKey,
    LazyTableReference,
    Timestamptz,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow

ORG = LazyTableReference("Organisation", module_path="server.orgs.tables")
USER = LazyTableReference("User", module_path="server.users.tables")
ACCOUNT = LazyTableReference("Account", module_path="server.accounts.tables")
CONTACT = LazyTableReference("Contact", module_path="server.accounts.tables")
LEAD = LazyTableReference("Lead", module_path="server.pipeline.tables")
OPPORTUNITY = LazyTableReference("Opportunity", module_path="server.pipeline.tables")
TERRITORY = LazyTableReference("Territory", module_path="server.geo.tables")
REGION = LazyTableReference("Region", module_path="server.orgs.tables")
TEAM = LazyTableReference("Team", module_path="server.orgs.tables")


class OrgRow:
    """Every row belongs to exactly one organisation."""

    id = UUID(primary_key=True)
    org_id = ForeignKey(ORG, null=False)


class SyncedRow(OrgRow):
    version = BigInt(default=0)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    deleted_at = Timestamptz(null=True, default=None)
    #: Column name -> the version that last changed it (field-level conflicts in sync pushes).
    field_versions = JSON(default="{}")
