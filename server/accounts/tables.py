from piccolo.columns import (
    UUID,
    DoublePrecision,
    ForeignKey,
    Integer,
    Numeric,
    Varchar,
)
from piccolo.table import Table

from server.db.columns import ACCOUNT, USER, SyncedRow

ACCOUNT_STATUSES = ("prospect", "customer", "inactive")


class Account(SyncedRow, Table, tablename="accounts"):
    """A customer or prospect business, pinned on the map."""

    name = Varchar(length=200)
    owner_id = ForeignKey(USER, null=True)
    status = Varchar(length=16, default="prospect")
    industry = Varchar(length=80, null=True, default=None)
    phone_e164 = Varchar(length=20, null=True, default=None)
    email = Varchar(length=254, null=True, default=None)
    website = Varchar(length=200, null=True, default=None)
    address_line = Varchar(length=200, null=True, default=None)
    city = Varchar(length=100, null=True, default=None)
    state = Varchar(length=100, null=True, default=None)
    postal_code = Varchar(length=20, null=True, default=None)
    country = Varchar(length=2, null=True, default=None)
    lat = DoublePrecision(null=True, default=None)
    lng = DoublePrecision(null=True, default=None)
    h3_cell = Varchar(length=16, null=True, default=None)
    #: Expected yearly revenue from this account (balancing "potential").
    potential = Numeric(digits=(14, 2), null=True, default=None)
    #: Visit target: one visit every N days (balancing "workload").
    visit_every_days = Integer(null=True, default=None)
    visit_minutes = Integer(default=30)
    merged_into_id = UUID(null=True, default=None)


class Contact(SyncedRow, Table, tablename="contacts"):
    account_id = ForeignKey(ACCOUNT, null=True)
    owner_id = ForeignKey(USER, null=True)
    first_name = Varchar(length=100, default="")
    last_name = Varchar(length=100, default="")
    title = Varchar(length=100, null=True, default=None)
    email = Varchar(length=254, null=True, default=None)
    phone_e164 = Varchar(length=20, null=True, default=None)
    mobile_e164 = Varchar(length=20, null=True, default=None)
    merged_into_id = UUID(null=True, default=None)
