"""The one registry of synced tables: scope rule, conflict policy and column writers.

Pull, push, checksums, capabilities and the generated mobile schemas all read
this module; adding a table to sync is declaring it here. Who may write a
column is derived from the feature's wire types: a column of the ``In`` type
is written by the client at insert; one also in the ``Patch`` type (or the
table's explicit ``updatable`` list) may be changed later; every other column
is the server's.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import msgspec
from piccolo.columns import (
    JSON,
    JSONB,
    UUID,
    BigInt,
    Boolean,
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    Numeric,
    Real,
    Timestamptz,
)
from piccolo.table import Table

from server.access.scope import Scope
from server.accounts import contacts as contact_service
from server.accounts import service as account_service
from server.accounts.contact_schemas import ContactIn, ContactPatch
from server.accounts.schemas import AccountIn, AccountPatch
from server.accounts.tables import Account, Contact
from server.comms import activities as activity_service
from server.comms.bulk import create_activities
from server.comms.schemas import AMENDABLE, ActivityIn, ActivityPatch
from server.comms.tables import Activity, MessageTemplate
from server.geo.tables import Territory
from server.incentives.tables import Contest, LeaderboardEntry
from server.pipeline import leads as lead_service
from server.pipeline import opportunities as opportunity_service
from server.pipeline.schemas import LeadIn, LeadPatch, OpportunityIn, OpportunityPatch
from server.pipeline.tables import Lead, Opportunity
from server.users.directory import update_user
from server.users.schemas import UserPatch
from server.users.tables import User
from server.work import service as work_service
from server.work.schemas import AppointmentIn, AppointmentPatch, TaskIn, TaskPatch
from server.work.tables import Appointment, Task

#: The schema version this server speaks, and the oldest it still accepts.
SCHEMA_VERSION = 4
MIN_SCHEMA_VERSION = 1

Policy = Literal["last_writer_wins", "server_wins", "reject"]
Writer = Literal["insert", "both", "server"]
#: How a column travels: its phone-database type and its wire encoding.
Kind = Literal["uuid", "text", "int", "float", "bool", "timestamp", "date", "decimal", "json"]

#: Wire names are column names; a few API fields spell them differently.
API_NAMES = {"phone_e164": "phone", "mobile_e164": "mobile"}
#: Never synced: internal bookkeeping and secrets.
HIDDEN = frozenset(
    {"org_id", "field_versions", "password_hash", "home_cell", "provider_ref", "last_login_at", "deleted_at"}
)  # deletes travel as ids, never as records


@dataclass(frozen=True)
class Writes:
    """How a push applies to this table: through the feature's own service."""

    patch_type: type[msgspec.Struct]
    update: Callable[..., Awaitable[dict]]
    #: Phones may create (and delete) rows only where these are given.
    insert_type: type[msgspec.Struct] | None = None
    create: Callable[[Scope, Any], Awaitable[Any]] | None = None
    delete: Callable[[Scope, uuid.UUID], Awaitable[None]] | None = None
    #: Set-based inserts: per item ``(row, created)`` or the error that refused it.
    create_many: Callable[[Scope, list[Any]], Awaitable[list[Any]]] | None = None
    #: Columns an update may change (default: the fields of ``patch_type``).
    updatable: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SyncedTable:
    name: str
    table: type[Table]
    scope: Callable[[Scope], Any]
    policy: Policy
    #: Columns whose user ids hold the row directly (owner, assignee, author).
    people: tuple[str, ...] = ()
    #: The row is also held by whoever holds this account / territory.
    account_column: str | None = None
    territory_column: str | None = None
    writes: Writes | None = None
    #: Overlapping edits of these columns follow this policy instead of the table's.
    field_policies: Mapping[str, Policy] = field(default_factory=dict)
    #: Schema version that introduced the table, and later columns.
    since: int = 1
    column_since: Mapping[str, int] = field(default_factory=dict)

    @cached_property
    def columns(self) -> dict[str, Kind]:
        """Wire columns (``id`` first) and how each is encoded."""
        return {c._meta.name: _kind(c) for c in self.table._meta.columns if c._meta.name not in HIDDEN}

    def columns_for(self, schema_version: int) -> dict[str, Kind]:
        """The columns a phone on ``schema_version`` knows (computed once per version)."""
        known = self.__dict__.setdefault("_columns_by_version", {})
        if schema_version not in known:
            known[schema_version] = {
                n: k for n, k in self.columns.items() if self.column_since.get(n, self.since) <= schema_version
            }
        return known[schema_version]

    @cached_property
    def writers(self) -> dict[str, Writer]:
        if self.writes is None:
            return dict.fromkeys(self.columns, "server")
        insertable = {_column(f) for f in getattr(self.writes.insert_type, "__struct_fields__", ())}
        updatable = set(self.writes.updatable or (_column(f) for f in self.writes.patch_type.__struct_fields__))
        return {
            name: "both" if name in updatable else "insert" if name in insertable else "server" for name in self.columns
        }

    def policy_of(self, column: str) -> Policy:
        return self.field_policies.get(column, self.policy)

    @property
    def scope_columns(self) -> tuple[str, ...]:
        """Columns whose change moves the row between users' scopes."""
        return tuple(c for c in (*self.people, self.account_column, self.territory_column) if c)


def _column(api_field: str) -> str:
    return {v: k for k, v in API_NAMES.items()}.get(api_field, api_field)


def api_field(column: str) -> str:
    return API_NAMES.get(column, column)


def _kind(column) -> Kind:
    if isinstance(column, (UUID, ForeignKey)):
        return "uuid"
    if isinstance(column, Timestamptz):
        return "timestamp"
    if isinstance(column, Date):
        return "date"
    if isinstance(column, Numeric):
        return "decimal"
    if isinstance(column, Boolean):
        return "bool"
    if isinstance(column, (Integer, BigInt)):
        return "int"
    if isinstance(column, (DoublePrecision, Real)):
        return "float"
    if isinstance(column, (JSON, JSONB)):
        return "json"
    return "text"


async def _create_activity(scope: Scope, data: ActivityIn) -> dict:
    row, _created = await activity_service.create_activity(scope, data)
    return row


TABLES: tuple[SyncedTable, ...] = (
    SyncedTable(
        # The directory: people edit their own name, phone and time zone offline; the
        # server (their manager or an admin) wins an overlapping edit.
        "users",
        User,
        Scope.users,
        "server_wins",
        writes=Writes(
            UserPatch, update_user, updatable=("full_name", "phone_e164", "timezone", "home_lat", "home_lng")
        ),
    ),
    SyncedTable(
        "territories",
        Territory,
        Scope.territories,
        "server_wins",
        since=2,
    ),
    SyncedTable(
        "accounts",
        Account,
        Scope.accounts,
        "last_writer_wins",
        people=("owner_id",),
        writes=Writes(
            AccountPatch,
            account_service.update_account,
            insert_type=AccountIn,
            create=account_service.create_account,
            delete=account_service.delete_account,
        ),
        column_since={"merged_into_id": 2},
    ),
    SyncedTable(
        "contacts",
        Contact,
        Scope.contacts,
        "last_writer_wins",
        people=("owner_id",),
        account_column="account_id",
        writes=Writes(
            ContactPatch,
            contact_service.update_contact,
            insert_type=ContactIn,
            create=contact_service.create_contact,
            delete=contact_service.delete_contact,
        ),
        column_since={"merged_into_id": 2},
    ),
    SyncedTable(
        "leads",
        Lead,
        Scope.leads,
        "last_writer_wins",
        people=("owner_id",),
        territory_column="territory_id",
        column_since={"merged_into_id": 2, "territory_id": 2},  # territories sync from version 2
        writes=Writes(
            LeadPatch,
            lead_service.update_lead,
            insert_type=LeadIn,
            create=lead_service.create_lead,
            delete=lead_service.delete_lead,
        ),
    ),
    SyncedTable(
        "opportunities",
        Opportunity,
        Scope.opportunities,
        "last_writer_wins",
        people=("owner_id",),
        account_column="account_id",
        writes=Writes(
            OpportunityPatch,
            opportunity_service.update_opportunity,
            insert_type=OpportunityIn,
            create=opportunity_service.create_opportunity,
            delete=opportunity_service.delete_opportunity,
        ),
        # Money and deal stage: an overlapping offline edit is refused, never overwritten.
        field_policies={"amount": "reject", "stage": "reject", "expected_close_date": "reject", "currency": "reject"},
    ),
    SyncedTable(
        "activities",
        Activity,
        Scope.activities,
        "last_writer_wins",
        people=("rep_id",),
        account_column="account_id",
        column_since={"clock_offset_s": 4},  # the device clock's offset when it ran ahead (version 4)
        writes=Writes(
            ActivityPatch,
            activity_service.update_activity,
            insert_type=ActivityIn,
            create=_create_activity,
            delete=activity_service.delete_activity,
            create_many=create_activities,
            updatable=AMENDABLE,
        ),
    ),
    SyncedTable(
        "tasks",
        Task,
        Scope.tasks,
        "last_writer_wins",
        people=("assignee_id",),
        writes=Writes(
            TaskPatch,
            work_service.update_task,
            insert_type=TaskIn,
            create=work_service.create_task,
            delete=work_service.delete_task,
        ),
    ),
    SyncedTable(
        "appointments",
        Appointment,
        Scope.appointments,
        "last_writer_wins",
        people=("assignee_id",),
        writes=Writes(
            AppointmentPatch,
            work_service.update_appointment,
            insert_type=AppointmentIn,
            create=work_service.create_appointment,
            delete=work_service.delete_appointment,
        ),
    ),
    # Manager-owned data: phones read it; the server always wins.
    SyncedTable("message_templates", MessageTemplate, Scope.templates, "server_wins", since=3),
    SyncedTable("contests", Contest, Scope.contests, "server_wins", since=3),
    SyncedTable("leaderboard_entries", LeaderboardEntry, Scope.leaderboard_entries, "server_wins", since=3),
)

BY_NAME: dict[str, SyncedTable] = {t.name: t for t in TABLES}
BY_TABLENAME: dict[str, SyncedTable] = {t.table._meta.tablename: t for t in TABLES}


def tables_for(schema_version: int) -> tuple[SyncedTable, ...]:
    return tuple(t for t in TABLES if t.since <= schema_version)
