from piccolo.columns import (
    JSON,
    UUID,
    BigInt,
    Boolean,
    DoublePrecision,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from server.db.columns import (
    ACCOUNT,
    CONTACT,
    LEAD,
    OPPORTUNITY,
    USER,
    OrgRow,
    SyncedRow,
)

ACTIVITY_TYPES = ("visit", "call", "text", "email", "meeting", "note", "task")
DIRECTIONS = ("in", "out")
MESSAGE_STATUSES = ("draft", "queued", "sending", "sent", "delivered", "failed", "received")
#: What the outbox sends through a provider: emails (SMTP), texts and click-to-call (Twilio-compatible).
CHANNELS = ("email", "text", "call")
OUTBOX_STATES = ("pending", "done", "failed")
INBOX_STATES = ("open", "assigned", "dismissed")
VERIFICATIONS = ("verified", "out_of_range", "unverifiable")


class Activity(SyncedRow, Table, tablename="activities"):
    """One interaction with a customer: the highest-volume table phones push."""

    rep_id = ForeignKey(USER)
    type = Varchar(length=10)
    direction = Varchar(length=3, default="out")
    outcome = Varchar(length=20, null=True, default=None)
    #: Device clock at the moment it happened (business data, never ordering).
    occurred_at = Timestamptz()
    #: Server clock when the activity first reached us.
    received_at = Timestamptz(default=TimestamptzNow())
    ended_at = Timestamptz(null=True, default=None)  # visit check-out, call end
    duration_s = Integer(null=True, default=None)
    lat = DoublePrecision(null=True, default=None)
    lng = DoublePrecision(null=True, default=None)
    accuracy_m = DoublePrecision(null=True, default=None)
    mock_location = Boolean(default=False)
    account_id = ForeignKey(ACCOUNT, null=True)
    contact_id = ForeignKey(CONTACT, null=True)
    lead_id = ForeignKey(LEAD, null=True)
    opportunity_id = ForeignKey(OPPORTUNITY, null=True)
    subject = Varchar(length=300, null=True, default=None)
    body = Text(null=True, default=None)
    #: Phone number or email address for texts, calls and emails.
    counterpart = Varchar(length=254, null=True, default=None)
    #: Messages only: draft, queued, sending, sent, delivered, failed, received.
    status = Varchar(length=12, null=True, default=None)
    status_detail = Varchar(length=300, null=True, default=None)
    provider_ref = Varchar(length=120, null=True, default=None)
    #: Visits and calls: verified, out_of_range or unverifiable (server-owned; server.comms.checkins).
    verification = Varchar(length=14, null=True, default=None)
    #: Visits: metres from the check-in to the account's location at the time.
    distance_m = DoublePrecision(null=True, default=None)
    #: Seconds the device clock was ahead when occurred_at had to be clamped to received_at (else null).
    clock_offset_s = DoublePrecision(null=True, default=None)


class MessageTemplate(SyncedRow, Table, tablename="message_templates"):
    """An org's ready-made email or text; reps pick one on the phone, offline included."""

    name = Varchar(length=120)
    channel = Varchar(length=10)  # email | text
    subject = Varchar(length=200, null=True, default=None)
    body = Text()
    active = Boolean(default=True)
    created_by_id = ForeignKey(USER, null=True)


class OutboxItem(OrgRow, Table, tablename="comms_outbox"):
    """A message or call the server owes a provider; its id is the activity's.

    Written in the transaction that stores the activity, sent after commit by
    ``server.comms.sender``. ``message_key`` (the email's Message-ID, the
    provider's idempotency token) is the same on every attempt, so a message
    sent twice after a crash can be recognised.
    """

    channel = Varchar(length=10)
    state = Varchar(length=10, default="pending")
    attempts = Integer(default=0)
    due_at = Timestamptz(default=TimestamptzNow())
    #: A sender holds the item until then; after it, another sender may take it over.
    lease_until = Timestamptz(null=True, default=None)
    claimed_by = Varchar(length=64, null=True, default=None)
    message_key = Varchar(length=200)
    last_error = Varchar(length=300, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)


class WebhookReceipt(OrgRow, Table, tablename="webhook_receipts"):
    """One provider event taken in: (provider, ref, event) is unique per org, so a replay stores nothing."""

    provider = Varchar(length=20)
    ref = Varchar(length=200)
    event = Varchar(length=40)
    received_at = Timestamptz(default=TimestamptzNow())


class InboxItem(OrgRow, Table, tablename="comms_inbox"):
    """An inbound text, call or email that matched no contact: the org's admins sort it out."""

    channel = Varchar(length=10)
    sender = Varchar(length=254)
    recipient = Varchar(length=254, null=True, default=None)
    subject = Varchar(length=300, null=True, default=None)
    body = Text(null=True, default=None)
    occurred_at = Timestamptz(default=TimestamptzNow())
    received_at = Timestamptz(default=TimestamptzNow())
    provider_ref = Varchar(length=200, null=True, default=None)
    state = Varchar(length=10, default="open")
    activity_id = UUID(null=True, default=None)
    resolved_by_id = ForeignKey(USER, null=True)
    resolved_at = Timestamptz(null=True, default=None)


class ActivityAmendment(OrgRow, Table, tablename="activity_amendments"):
    """One correction of an activity: who changed which columns from what to what."""

    activity_id = UUID()
    amended_by_id = ForeignKey(USER)
    amended_at = Timestamptz(default=TimestamptzNow())
    #: The activity's version after the amendment.
    version = BigInt(default=0)
    #: Column name -> {"from": old, "to": new}.
    changes = JSON(default="{}")
