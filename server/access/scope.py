"""The scope matrix (SYNC.md) as Piccolo conditions, one function per table.

A :class:`Scope` is built once per request (or sync pull) from the principal.
Admins see their whole org; managers see their team (themselves and everyone
below them); reps see their own rows plus what their territories cover.
Every condition includes the org, so no query can reach another org's data.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import msgspec
from piccolo.columns.combination import And, Where
from piccolo.querystring import QueryString
from piccolo.table import Table

from server.access.principal import Principal
from server.access.team import managers_of, reports_of
from server.accounts.tables import Account, Contact
from server.common.time import utcnow
from server.comms.tables import Activity, MessageTemplate
from server.db.engine import read_values
from server.geo.tables import Territory, TerritoryAccount
from server.incentives.tables import Contest, ContestParticipant, LeaderboardEntry
from server.pipeline.tables import Lead, Opportunity
from server.users.tables import User
from server.work.tables import Appointment, Task

#: A rep's offline timeline covers this much history on accounts in scope.
TIMELINE_DAYS = 90

#: (user, manager) of every live user of an org: the reporting lines.
ORG_LINKS_SQL = "SELECT id, manager_id FROM users WHERE org_id = {} AND deleted_at IS NULL"
Links = list[tuple[uuid.UUID, uuid.UUID | None]]
#: Territories some of the given users own now (``{users}``: one placeholder per user).
OWNED_TERRITORIES_SQL = ("SELECT DISTINCT territory_id FROM territory_owners "
                         "WHERE org_id = {{}} AND valid_to IS NULL AND user_id IN ({users})")


class Scope:
    def __init__(self, principal: Principal, members: frozenset[uuid.UUID] | None,
                 directory: frozenset[uuid.UUID] | None,
                 territories: tuple[uuid.UUID, ...] = ()) -> None:
        self.principal = principal
        #: Users whose rows the caller sees as "team" (None: the whole org).
        self.members = members
        #: Users the caller sees in the directory (None: the whole org).
        self.directory = directory
        #: Territories currently owned by the members, resolved once per request:
        #: a literal list lets the database use the territory index directly
        #: (a nested sub-select scanned all of territory_accounts on PostgreSQL).
        self.owned_territories = territories

    @classmethod
    async def build(cls, principal: Principal) -> Scope:
        if principal.is_admin:
            return cls(principal, None, None)
        # Two short reads with constant SQL: Piccolo's query building and value
        # converters cost more than the reads (bench/list_accounts.py).
        rows = await read_values(QueryString(ORG_LINKS_SQL, principal.org_id), short=True)
        links = msgspec.convert(rows, Links)
        me = principal.user_id
        if principal.is_manager:
            members = frozenset(reports_of(me, links) | {me})
            directory = members | frozenset(managers_of(me, links))
        else:
            chain = managers_of(me, links)
            mates = {u for u, m in links if chain and m == chain[0]}
            members, directory = frozenset({me}), frozenset(mates | set(chain) | {me})
        users = sorted(members)
        sql = OWNED_TERRITORIES_SQL.format(users=", ".join("{}" for _ in users))
        owned = await read_values(QueryString(sql, principal.org_id, *users), short=True)
        territories = tuple(sorted(msgspec.convert([t for t, in owned], set[uuid.UUID])))
        return cls(principal, members, directory, territories)

    # -- helpers -----------------------------------------------------------
    @property
    def org_id(self) -> uuid.UUID:
        return self.principal.org_id

    def _org(self, table: type[Table]) -> Where:
        return table.org_id == self.org_id  # type: ignore[attr-defined]

    def _members(self) -> list[uuid.UUID]:
        assert self.members is not None
        return sorted(self.members)

    def territory_account_ids(self):
        """Sub-select of the accounts now in the members' territories (call only with territories)."""
        return TerritoryAccount.select(TerritoryAccount.account_id).where(
            (TerritoryAccount.org_id == self.org_id)
            & TerritoryAccount.territory_id.is_in(list(self.owned_territories))
            & TerritoryAccount.valid_to.is_null()
        )

    def visible_account_ids(self):
        return Account.select(Account.id).where(self.accounts())

    # -- one condition per table ------------------------------------------
    def accounts(self) -> Where | And:
        if self.members is None:
            return self._org(Account)
        owned = Account.owner_id.is_in(self._members())
        if not self.owned_territories:
            return self._org(Account) & owned
        return self._org(Account) & (owned | Account.id.is_in(self.territory_account_ids()))

    def contacts(self) -> Where | And:
        if self.members is None:
            return self._org(Contact)
        return self._org(Contact) & (
            Contact.owner_id.is_in(self._members())
            | Contact.account_id.is_in(self.visible_account_ids())
        )

    def leads(self) -> Where | And:
        if self.members is None:
            return self._org(Lead)
        owned = Lead.owner_id.is_in(self._members())
        if not self.owned_territories:
            return self._org(Lead) & owned
        unowned_here = Lead.owner_id.is_null() & Lead.territory_id.is_in(list(self.owned_territories))
        return self._org(Lead) & (owned | unowned_here)

    def opportunities(self) -> Where | And:
        if self.members is None:
            return self._org(Opportunity)
        owned = Opportunity.owner_id.is_in(self._members())
        if not self.owned_territories:
            return self._org(Opportunity) & owned
        unowned_here = Opportunity.owner_id.is_null() & Opportunity.account_id.is_in(
            self.territory_account_ids()
        )
        return self._org(Opportunity) & (owned | unowned_here)

    def activities(self) -> Where | And:
        if self.members is None:
            return self._org(Activity)
        own = Activity.rep_id.is_in(self._members())
        if self.principal.is_manager:
            return self._org(Activity) & own
        since = utcnow() - timedelta(days=TIMELINE_DAYS)
        recent_here = (Activity.occurred_at >= since) & Activity.account_id.is_in(
            self.visible_account_ids()
        )
        return self._org(Activity) & (own | recent_here)

    def tasks(self) -> Where | And:
        if self.members is None:
            return self._org(Task)
        return self._org(Task) & Task.assignee_id.is_in(self._members())

    def appointments(self) -> Where | And:
        if self.members is None:
            return self._org(Appointment)
        return self._org(Appointment) & Appointment.assignee_id.is_in(self._members())

    def territories(self) -> Where | And:
        if self.members is None:
            return self._org(Territory)
        if not self.owned_territories:
            return self._org(Territory) & Territory.id.is_null()  # none: match nothing
        return self._org(Territory) & Territory.id.is_in(list(self.owned_territories))

    def users(self) -> Where | And:
        if self.directory is None:
            return self._org(User)
        return self._org(User) & User.id.is_in(sorted(self.directory))

    def templates(self) -> Where | And:
        return self._org(MessageTemplate)

    def _joined_contests(self):
        return ContestParticipant.select(ContestParticipant.contest_id).where(
            (ContestParticipant.org_id == self.org_id) & ContestParticipant.user_id.is_in(self._members())
        )

    def contests(self) -> Where | And:
        """Reps: contests they take part in; managers: theirs and their team's; admins: the org's."""
        if self.members is None:
            return self._org(Contest)
        joined = Contest.id.is_in(self._joined_contests())
        if self.principal.is_manager:
            return self._org(Contest) & (Contest.created_by_id.is_in(self._members()) | joined)
        return self._org(Contest) & joined & (Contest.status != "draft")

    def leaderboard_entries(self) -> Where | And:
        """Every row of the contests one sees, except a ``top3`` contest shows reps its top three and their own."""
        if self.members is None:
            return self._org(LeaderboardEntry)
        visible = Contest.select(Contest.id).where(self.contests())
        if self.principal.is_manager:
            return self._org(LeaderboardEntry) & LeaderboardEntry.contest_id.is_in(visible)
        open_boards = Contest.select(Contest.id).where(self.contests() & (Contest.visibility == "all"))
        near_top = (LeaderboardEntry.rank <= 3) | (LeaderboardEntry.user_id == self.principal.user_id)
        return self._org(LeaderboardEntry) & (
            LeaderboardEntry.contest_id.is_in(open_boards)
            | (LeaderboardEntry.contest_id.is_in(visible) & near_top)
        )

    def owned_by(self, table: type[Table], owner_id: uuid.UUID, base: Where | And) -> Where | And:
        """``base`` narrowed to rows owned by ``owner_id``.

        When the owner is one of the caller's members, every row they own is in
        scope already, so the (costly) territory part of ``base`` is dropped and
        the query can use the owner index alone.
        """
        owner = table.owner_id == owner_id  # type: ignore[attr-defined]
        if self.members is None or owner_id in self.members:
            return self._org(table) & owner
        return base & owner

    def sees_user(self, user_id: uuid.UUID) -> bool:
        return self.directory is None or user_id in self.directory

    def may_assign_to(self, user_id: uuid.UUID) -> bool:
        """Owners a caller may give a record to: admins anyone, managers their team, reps themselves."""
        return self.members is None or user_id in self.members

