from piccolo.columns import (
    UUID,
    BigInt,
    ForeignKey,
    LazyTableReference,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from server.db.columns import USER, OrgRow


class Device(OrgRow, Table, tablename="devices"):
    """A phone registered to one user; the id is generated on the phone."""

    user_id = ForeignKey(USER)
    name = Varchar(length=120, default="")
    platform = Varchar(length=20, null=True, default=None)
    app_version = Varchar(length=40, null=True, default=None)
    push_provider = Varchar(length=10, null=True, default=None)  # fcm | apns
    push_token = Varchar(length=512, null=True, default=None)
    #: Highest sync mutation id applied for this device (exactly-once pushes).
    last_mutation_id = BigInt(default=0)
    #: Scope keys of its last WatermelonDB-compatible pull (``sync_scopes.id``).
    sync_scope = Varchar(length=64, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    last_seen_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
    revoked_by_id = ForeignKey(USER, null=True)


class AuthSession(OrgRow, Table, tablename="auth_sessions"):
    """A login: one refresh-token family. Revoking it ends its access tokens too."""

    user_id = ForeignKey(USER)
    device_id = ForeignKey(LazyTableReference("Device", module_path=__name__), null=True)
    created_at = Timestamptz(default=TimestamptzNow())
    last_used_at = Timestamptz(default=TimestamptzNow())
    revoked_at = Timestamptz(null=True, default=None)
    revoke_reason = Varchar(length=40, null=True, default=None)


class RefreshToken(Table, tablename="refresh_tokens"):
    id = UUID(primary_key=True)
    session_id = ForeignKey(LazyTableReference("AuthSession", module_path=__name__))
    token_hash = Varchar(length=64, unique=True)  # sha256 hex of the opaque token
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
