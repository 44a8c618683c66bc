"""Sales contests, their leaderboards, frozen results and later adjustments (METRICS_CONTESTS.md)."""
from piccolo.columns import (
    JSON,
    UUID,
    BigInt,
    Boolean,
    DoublePrecision,
    ForeignKey,
    Integer,
    LazyTableReference,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from server.db.columns import USER, OrgRow, SyncedRow

CONTEST = LazyTableReference("Contest", module_path="server.incentives.tables")
#: draft -> scheduled (published, before the start) -> running -> closing (window over, grace
#: period for late syncs) -> finished (results frozen); cancelled from any status before finished.
#: Migration 0008 renamed the first names ``published`` and ``final``.
CONTEST_STATUSES = ("draft", "scheduled", "running", "closing", "finished", "cancelled")
#: Statuses whose leaderboard still moves.
LIVE_STATUSES = ("running", "closing")
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
    #: Participants rule, metric lines, scoring mode, eligibility and prizes (``rules.ContestRules``).
    rules = JSON(default="{}")


class ContestParticipant(OrgRow, Table, tablename="contest_participants"):
    """Resolved once, at publish: later team or region changes do not add or remove anyone."""

    contest_id = ForeignKey(CONTEST)
    user_id = ForeignKey(USER)


class LeaderboardEntry(SyncedRow, Table, tablename="leaderboard_entries"):
    contest_id = ForeignKey(CONTEST)
    user_id = ForeignKey(USER)
    score = DoublePrecision(default=0)
    #: Shared by ties ("1, 1, 3"); null while the participant is not eligible.
    rank = Integer(null=True, default=None)
    #: Per-metric values, the activity count and eligibility behind the score (and the prize once final).
    detail = JSON(default="{}")


class ContestResult(OrgRow, Table, tablename="contest_results"):
    """A participant's frozen result, written in the transaction that finishes the contest."""

    contest_id = ForeignKey(CONTEST)
    user_id = ForeignKey(USER)
    score = DoublePrecision(null=True, default=None)
    rank = Integer(null=True, default=None)
    eligible = Boolean(default=False)
    #: metric -> value as frozen (the base later adjustments are measured against).
    metric_values = JSON(default="{}")
    prize = JSON(default="{}")
    #: The org's version when frozen: activity written later is what an adjustment lists.
    as_of_version = BigInt(default=0)
    frozen_at = Timestamptz(default=TimestamptzNow())


class ContestAdjustment(OrgRow, Table, tablename="contest_adjustments"):
    """Activity for a finished contest's window that arrived after the freeze: recorded, never applied."""

    contest_id = ForeignKey(CONTEST)
    user_id = ForeignKey(USER)
    metric = Varchar(length=32)
    delta = DoublePrecision(default=0)
    activity_ids = JSON(default="[]")
    created_at = Timestamptz(default=TimestamptzNow())


class ContestTally(OrgRow, Table, tablename="contest_tallies"):
    """What the window's queries last measured for one participant (``scoring.Measured`` as JSON)."""

    contest_id = ForeignKey(CONTEST)
    user_id = ForeignKey(USER)
    measured = Text(default="{}")


class ContestProgress(Table, tablename="contest_progress"):
    """The org version a contest's tallies were measured at (re-measure only what changed since)."""

    contest_id = UUID(primary_key=True)
    org_id = UUID()
    as_of_version = BigInt(default=0)


__all__ = [
    "CONTEST_STATUSES",
    "LIVE_STATUSES",
    "VISIBILITIES",
    "Contest",
    "ContestAdjustment",
    "ContestParticipant",
    "ContestProgress",
    "ContestResult",
    "ContestTally",
    "LeaderboardEntry",
]
