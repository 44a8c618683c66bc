"""Every table of the application, in dependency order (parents first)."""

from server.accounts.location_history import AccountLocationChange
from server.accounts.tables import Account, Contact
from server.audit.tables import AuditEvent
from server.auth.tables import AuthSession, Device, RefreshToken
from server.comms.tables import (
    Activity,
    ActivityAmendment,
    InboxItem,
    MessageTemplate,
    OutboxItem,
    WebhookReceipt,
)
from server.geo.tables import (
    Territory,
    TerritoryAccount,
    TerritoryFigures,
    TerritoryOwner,
    TerritoryPlan,
)
from server.incentives.tables import (
    Contest,
    ContestAdjustment,
    ContestParticipant,
    ContestProgress,
    ContestResult,
    ContestTally,
    LeaderboardEntry,
)
from server.jobs.tables import JobRun
from server.metrics.tables import MetricWatermark, RepDayMetrics
from server.notify.tables import PushItem
from server.orgs.tables import (
    ManagerLink,
    Organisation,
    OrgClock,
    Region,
    Team,
    TeamMembership,
)
from server.pipeline.tables import Lead, Opportunity, StageChange
from server.sync.tables import SyncMove, SyncMutation, SyncScope
from server.users.tables import User
from server.work.tables import Appointment, Task

ALL_TABLES = (
    Organisation,
    OrgClock,
    User,
    Region,
    Team,
    TeamMembership,
    ManagerLink,
    Device,
    AuthSession,
    RefreshToken,
    Territory,
    Account,
    Contact,
    Opportunity,
    Lead,
    StageChange,
    Activity,
    Task,
    Appointment,
    TerritoryOwner,
    TerritoryAccount,
    AuditEvent,
    MessageTemplate,
    Contest,
    ContestParticipant,
    LeaderboardEntry,
    TerritoryPlan,
    TerritoryFigures,
    SyncMutation,
    SyncMove,
    SyncScope,
    OutboxItem,
    WebhookReceipt,
    InboxItem,
    ActivityAmendment,
    AccountLocationChange,
    JobRun,
    PushItem,
    RepDayMetrics,
    MetricWatermark,
    ContestResult,
    ContestAdjustment,
    ContestTally,
    ContestProgress,
)
