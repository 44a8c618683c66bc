from decimal import Decimal

from piccolo.columns import (
    UUID,
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    Numeric,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from server.db.columns import (
    ACCOUNT,
    CONTACT,
    OPPORTUNITY,
    TERRITORY,
    USER,
    OrgRow,
    SyncedRow,
)

LEAD_STATUSES = ("new", "contacted", "qualified", "converted", "disqualified")
LEAD_SOURCES = ("door_knock", "referral", "web", "event", "cold_call", "partner", "other")
OPEN_STAGES = ("prospecting", "qualification", "proposal", "negotiation")
CLOSED_STAGES = ("closed_won", "closed_lost")
STAGES = OPEN_STAGES + CLOSED_STAGES
#: Default win probability per stage (percent), used when none is given.
STAGE_PROBABILITY = {
    "prospecting": 10,
    "qualification": 25,
    "proposal": 50,
    "negotiation": 75,
    "closed_won": 100,
    "closed_lost": 0,
}


class Lead(SyncedRow, Table, tablename="leads"):
    """A prospect not yet qualified into an account and a deal."""

    owner_id = ForeignKey(USER, null=True)
    status = Varchar(length=16, default="new")
    source = Varchar(length=20, default="other")
    first_name = Varchar(length=100, default="")
    last_name = Varchar(length=100, default="")
    company = Varchar(length=200, default="")
    title = Varchar(length=100, null=True, default=None)
    email = Varchar(length=254, null=True, default=None)
    phone_e164 = Varchar(length=20, null=True, default=None)
    address_line = Varchar(length=200, null=True, default=None)
    city = Varchar(length=100, null=True, default=None)
    state = Varchar(length=100, null=True, default=None)
    postal_code = Varchar(length=20, null=True, default=None)
    lat = DoublePrecision(null=True, default=None)
    lng = DoublePrecision(null=True, default=None)
    h3_cell = Varchar(length=16, null=True, default=None)
    #: Server-assigned from the lead's cell: unowned leads are visible to the territory's reps.
    territory_id = ForeignKey(TERRITORY, null=True)
    account_id = ForeignKey(ACCOUNT, null=True)
    contact_id = ForeignKey(CONTACT, null=True)
    opportunity_id = ForeignKey(OPPORTUNITY, null=True)
    converted_at = Timestamptz(null=True, default=None)
    disqualified_reason = Varchar(length=200, null=True, default=None)
    merged_into_id = UUID(null=True, default=None)


class Opportunity(SyncedRow, Table, tablename="opportunities"):
    """A deal: money, a stage and an expected close date."""

    account_id = ForeignKey(ACCOUNT)
    owner_id = ForeignKey(USER, null=True)
    lead_id = UUID(null=True, default=None)
    name = Varchar(length=200)
    stage = Varchar(length=20, default="prospecting")
    amount = Numeric(digits=(14, 2), default=Decimal(0))
    currency = Varchar(length=3, default="USD")
    probability = Integer(default=10)
    expected_close_date = Date(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    close_reason = Varchar(length=200, null=True, default=None)


class StageChange(OrgRow, Table, tablename="opportunity_stage_changes"):
    """Every stage move of a deal, for funnel and velocity metrics."""

    opportunity_id = ForeignKey(OPPORTUNITY)
    from_stage = Varchar(length=20, null=True, default=None)
    to_stage = Varchar(length=20)
    amount = Numeric(digits=(14, 2), default=Decimal(0))
    changed_by_id = ForeignKey(USER, null=True)
    changed_at = Timestamptz(default=TimestamptzNow())
