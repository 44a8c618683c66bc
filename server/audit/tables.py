from piccolo.columns import JSON, UUID, ForeignKey, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from server.db.columns import USER, OrgRow


class AuditEvent(OrgRow, Table, tablename="audit_events"):
    actor_id = ForeignKey(USER, null=True)
    action = Varchar(length=60)
    entity = Varchar(length=40)
    entity_id = UUID(null=True, default=None)
    at = Timestamptz(default=TimestamptzNow())
    detail = JSON(default="{}")
    request_id = Varchar(length=64, null=True, default=None)
