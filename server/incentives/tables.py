from piccolo.columns import JSON, DoublePrecision, ForeignKey, Integer, LazyTableReference, Text, Timestamptz, Varchar
from piccolo.table import Table

from server.db.columns import USER, OrgRow, SyncedRow

CONTEST = LazyTableReference("Contest", module_path="server.incentives.tables")
CONTEST_STATUSES = ("draft", "published", "closing", "final", "cancelled")
#: Who sees a contest's leaderboard: every row, or the top three and one's own.
VISIBILITIES = ("all", "top3")


class Contest(SyncedRow, Table, tablename="contests"):
    name = Varchar(length=200)
    description = Text(default="")
    status = Varchar(length=12, default="draft")
    starts_at = Timestamptz()
    ends_at = Timestamptz()
    created_by_id = ForeignKey(USER)
    visibility = Varchar(length=8, default="all")
    #: Metric lines, scoring mode, eligibility and prizes (METRICS_CONTESTS.md).
    rules = JSON(default="{}")


class ContestParticipant(OrgRow, Table, tablename="contest_participants"):
    contest_id = ForeignKey(CONTEST)
    user_id = ForeignKey(USER)


class LeaderboardEntry(SyncedRow, Table, tablename="leaderboard_entries"):
    contest_id = ForeignKey(CONTEST)
    user_id = ForeignKey(USER)
    score = DoublePrecision(default=0)
    rank = Integer(null=True, default=None)
    #: Ids of the activities that last changed the score (explains a jump on the phone).
    detail = JSON(default="{}")
