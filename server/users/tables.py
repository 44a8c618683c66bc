from piccolo.columns import (
    Boolean,
    DoublePrecision,
    ForeignKey,
    LazyTableReference,
    Real,
    Secret,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from server.db.columns import SyncedRow

ROLES = ("rep", "manager", "admin")


class User(SyncedRow, Table, tablename="users"):
    email = Varchar(length=254)  # stored lower-case; unique across all orgs (login key)
    password_hash = Secret(length=200)
    full_name = Varchar(length=200)
    role = Varchar(length=16, default="rep")
    manager_id = ForeignKey(LazyTableReference("User", module_path=__name__), null=True)
    timezone = Varchar(length=64, null=True, default=None)
    phone_e164 = Varchar(length=20, null=True, default=None)
    #: Where the rep starts the day; used to assign territories by travel.
    home_lat = DoublePrecision(null=True, default=None)
    home_lng = DoublePrecision(null=True, default=None)
    home_cell = Varchar(length=16, null=True, default=None)
    #: Capacity as a fraction of a full-time rep (balancing workload).
    capacity_fte = Real(default=1.0)
    active = Boolean(default=True)
    last_login_at = Timestamptz(null=True, default=None)
