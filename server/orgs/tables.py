from piccolo.columns import (
    UUID,
    BigInt,
    ForeignKey,
    Integer,
    LazyTableReference,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from server.db.columns import ORG, USER, OrgRow, SyncedRow


class Organisation(Table, tablename="organisations"):
    id = UUID(primary_key=True)
    name = Varchar(length=200)
    slug = Varchar(length=80, unique=True)
    base_currency = Varchar(length=3, default="USD")
    timezone = Varchar(length=64, default="UTC")
    #: Radius within which a check-in counts as at the customer.
    checkin_radius_m = Integer(default=100)
    #: How long tombstones are kept for sync (SYNC.md guarantee 6).
    tombstone_days = Integer(default=90)
    #: A call counts as verified when the provider reports it connected at least this long.
    call_verify_min_s = Integer(default=20)
    #: The org's number for texts and click-to-call (E.164), and the From of its emails.
    sms_from = Varchar(length=20, null=True, default=None)
    email_from = Varchar(length=254, null=True, default=None)
    #: Hours after a contest's window during which activity recorded inside it still counts.
    contest_grace_hours = Integer(default=72)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class OrgClock(Table, tablename="org_clocks"):
    """One row per org: the counter behind commit-ordered versions."""

    id = UUID(primary_key=True)  # equals the organisation id
    version = BigInt(default=0)
    #: Tombstones at or below this version have been purged: older cursors get 410.
    purged_version = BigInt(default=0)


class Region(SyncedRow, Table, tablename="regions"):
    name = Varchar(length=200)
    parent_id = ForeignKey(LazyTableReference("Region", module_path=__name__), null=True)


class Team(SyncedRow, Table, tablename="teams"):
    name = Varchar(length=200)
    manager_id = ForeignKey(USER, null=True)
    region_id = ForeignKey(LazyTableReference("Region", module_path=__name__), null=True)


class TeamMembership(OrgRow, Table, tablename="team_memberships"):
    """Who was in which team when (effective-dated; ``valid_to`` null = current)."""

    team_id = ForeignKey(LazyTableReference("Team", module_path=__name__))
    user_id = ForeignKey(USER)
    valid_from = Timestamptz(default=TimestamptzNow())
    valid_to = Timestamptz(null=True, default=None)


class ManagerLink(OrgRow, Table, tablename="manager_links"):
    """The manager chain over time; ``users.manager_id`` is the current link."""

    user_id = ForeignKey(USER)
    manager_id = ForeignKey(USER)
    valid_from = Timestamptz(default=TimestamptzNow())
    valid_to = Timestamptz(null=True, default=None)


__all__ = ["ORG", "Organisation", "OrgClock", "Region", "Team", "TeamMembership", "ManagerLink"]
