from piccolo.columns import (
    JSON,
    ForeignKey,
    Integer,
    LazyTableReference,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from server.db.columns import USER, OrgRow

DEVICE = LazyTableReference("Device", module_path="server.auth.tables")


class PushItem(OrgRow, Table, tablename="push_outbox"):
    """One push notification owed to one device, queued in the transaction that caused it.

    The device's token is copied at queueing time: the sender sends to that
    token, and a token the provider reports dead is cleared on the device only
    if the device still has it (a phone may have registered a new one since).
    """

    user_id = ForeignKey(USER)
    device_id = ForeignKey(DEVICE)
    provider = Varchar(length=10)  # fcm | apns (the device's push_provider)
    token = Varchar(length=512)
    title = Varchar(length=200)
    body = Text()
    #: String keys to string values, as FCM requires; handed to the app with the notification.
    data = JSON(default="{}")
    #: Pushes with the same key replace each other on the phone (Android collapse_key, apns-collapse-id).
    collapse_key = Varchar(length=64, null=True, default=None)
    state = Varchar(length=10, default="pending")  # pending | done | failed
    attempts = Integer(default=0)
    due_at = Timestamptz(default=TimestamptzNow())
    #: A sender holds the item until then; after it, another sender may take it over.
    lease_until = Timestamptz(null=True, default=None)
    claimed_by = Varchar(length=64, null=True, default=None)
    last_error = Varchar(length=300, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)
