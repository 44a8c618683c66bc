from piccolo.columns import DoublePrecision, ForeignKey, Text, Timestamptz, Varchar
from piccolo.table import Table

from server.db.columns import ACCOUNT, CONTACT, LEAD, OPPORTUNITY, USER, SyncedRow

TASK_STATUSES = ("open", "done", "cancelled")
APPOINTMENT_STATUSES = ("scheduled", "done", "cancelled", "no_show")


class Task(SyncedRow, Table, tablename="tasks"):
    assignee_id = ForeignKey(USER)
    created_by_id = ForeignKey(USER, null=True)
    account_id = ForeignKey(ACCOUNT, null=True)
    contact_id = ForeignKey(CONTACT, null=True)
    lead_id = ForeignKey(LEAD, null=True)
    opportunity_id = ForeignKey(OPPORTUNITY, null=True)
    title = Varchar(length=200)
    notes = Text(null=True, default=None)
    due_at = Timestamptz(null=True, default=None)
    status = Varchar(length=10, default="open")
    completed_at = Timestamptz(null=True, default=None)


class Appointment(SyncedRow, Table, tablename="appointments"):
    assignee_id = ForeignKey(USER)
    created_by_id = ForeignKey(USER, null=True)
    account_id = ForeignKey(ACCOUNT, null=True)
    contact_id = ForeignKey(CONTACT, null=True)
    lead_id = ForeignKey(LEAD, null=True)
    opportunity_id = ForeignKey(OPPORTUNITY, null=True)
    title = Varchar(length=200)
    starts_at = Timestamptz()
    ends_at = Timestamptz()
    location = Varchar(length=300, null=True, default=None)
    lat = DoublePrecision(null=True, default=None)
    lng = DoublePrecision(null=True, default=None)
    status = Varchar(length=10, default="scheduled")
