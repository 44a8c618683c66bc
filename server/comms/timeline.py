"""The customer timeline: every interaction concerning one account, contact, lead or opportunity.

Newest first by ``occurred_at`` (the device's clock), ``id`` breaking ties, in
keyset pages: a cursor names the last row seen, so pages stay stable while new
activities arrive. Tombstoned activities never appear, and every activity shown
is one the caller's ``Scope.activities()`` covers: a rep sees on a colleague's
account what the scope matrix lets them see, not more.

What "concerning" means:

* a contact, lead or opportunity: the activities linked to it (``contact_id``,
  ``lead_id``, ``opportunity_id``);
* an account: the activities linked to it directly (``account_id``), and those
  linked to **no** account but to one of its contacts or opportunities (a text
  matched to a contact by phone number, a note on a deal). The account's
  contacts and opportunities are those whose ``account_id`` is the account now,
  tombstoned ones included (their history stays the customer's). An activity
  that names another account stays on that account's timeline only, so every
  activity is on at most one account timeline.

The record itself must be visible to the caller (live, same org, in scope);
otherwise ``NotFound``, exactly as if it did not exist.

How it reads (bench/timeline.py): one short read checks the record, one the
account's contacts and opportunities, then one statement per page. For an
account that is a ``UNION ALL`` of up to three branches, each an index range
scan (``activities (account_id|contact_id|opportunity_id, occurred_at)``) with
the page limit inside, merged by ``(occurred_at, id)``. Rows are read as plain
values and converted by msgspec for the whole page (as ``accounts.service``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
from piccolo.querystring import QueryString
from piccolo.table import Table

from server.access.scope import Scope
from server.accounts.tables import Account, Contact
from server.common.errors import Invalid, NotFound
from server.common.keyset import clamp_limit, decode_cursor, encode_cursor
from server.comms.schemas import ActivityOut
from server.comms.tables import ACTIVITY_TYPES, Activity
from server.db.engine import is_sqlite, read_values
from server.pipeline.tables import Lead, Opportunity

#: Cursor sort key: the order of ``GET /activities?sort=-occurred_at``, so cursors are interchangeable.
SORT = "-occurred_at"
COLUMNS = ActivityOut.__struct_fields__
_SELECT = ", ".join(f"activities.{c}" for c in COLUMNS)
_ORDER = "ORDER BY occurred_at DESC, id DESC"
#: The record kinds with a timeline: (table, what, the activity column naming it).
SUBJECTS: dict[str, tuple[type[Table], str]] = {
    "account": (Account, "account_id"),
    "contact": (Contact, "contact_id"),
    "lead": (Lead, "lead_id"),
    "opportunity": (Opportunity, "opportunity_id"),
}
#: An account's contacts and opportunities, tombstoned ones included (by their account index).
_ACCOUNT_LINKS_SQL = ("SELECT 'contact', id FROM contacts WHERE org_id = {} AND account_id = {} "
                      "UNION ALL SELECT 'opportunity', id FROM opportunities WHERE org_id = {} AND account_id = {}")


class TimelineFilter(msgspec.Struct, kw_only=True):
    #: Activity types; each item may itself be a comma list (``?type=call,visit``).
    types: list[str] | None = None
    rep_id: uuid.UUID | None = None


#: ActivityOut's fields in order as an array-like struct, for converting a page of plain values at once.
_Row = msgspec.defstruct("_Row", [(f.name, f.type) for f in msgspec.structs.fields(ActivityOut)], array_like=True)
_DATETIMES = tuple(i for i, f in enumerate(COLUMNS) if f.endswith("_at"))


def parse_types(raw: list[str] | None) -> list[str] | None:
    """``["call,visit", "note"]`` -> ``["call", "note", "visit"]``; an unknown type is 422 ``unknown_type``."""
    if not raw:
        return None
    types = {t.strip() for item in raw for t in item.split(",") if t.strip()}
    unknown = sorted(types - set(ACTIVITY_TYPES))
    if unknown:
        raise Invalid(f"unknown activity type {', '.join(unknown)}; one of {', '.join(ACTIVITY_TYPES)}",
                      field="type", code="unknown_type")
    return sorted(types) or None


def activities_out(rows: list[tuple]) -> list[ActivityOut]:
    """Rows of ``COLUMNS`` as the driver returns them (text on SQLite) -> ActivityOut, timestamps in UTC."""
    out = []
    for row in msgspec.convert(rows, list[_Row], strict=False):
        values = list(msgspec.structs.astuple(row))
        for i in _DATETIMES:
            value = values[i]
            if value is not None and value.tzinfo is None:
                values[i] = value.replace(tzinfo=UTC)
        out.append(ActivityOut(*values))
    return out


async def _check_visible(scope: Scope, kind: str, record_id: uuid.UUID) -> None:
    table, _ = SUBJECTS[kind]
    condition = _scope_of(scope, kind) & (table._meta.primary_key == record_id) & table.deleted_at.is_null()  # type: ignore[attr-defined]
    name = table._meta.tablename
    found = await read_values(QueryString(f"SELECT {name}.id FROM {name} WHERE {{}}", condition.querystring),
                              short=True)
    if not found:
        raise NotFound(f"{kind} not found")


def _scope_of(scope: Scope, kind: str):
    return {"account": scope.accounts, "contact": scope.contacts, "lead": scope.leads,
            "opportunity": scope.opportunities}[kind]()


async def _account_links(org_id: uuid.UUID, account_id: uuid.UUID) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    rows = await read_values(QueryString(_ACCOUNT_LINKS_SQL, org_id, account_id, org_id, account_id), short=True)
    ids = msgspec.convert([i for _, i in rows], list[uuid.UUID])
    contacts = [i for (kind, _), i in zip(rows, ids, strict=True) if kind == "contact"]
    opportunities = [i for (kind, _), i in zip(rows, ids, strict=True) if kind == "opportunity"]
    return contacts, opportunities


def _common(scope: Scope, f: TimelineFilter, cursor: str | None):
    """What every branch shares: scope, live rows, filters and the cursor position."""
    cond = scope.activities() & Activity.deleted_at.is_null()
    types = parse_types(f.types)
    if types:
        cond = cond & Activity.type.is_in(types)
    if f.rep_id is not None:
        cond = cond & (Activity.rep_id == f.rep_id)
    if cursor:
        value, last_id = decode_cursor(cursor, SORT)
        if not isinstance(value, datetime):
            raise Invalid("malformed cursor", field="cursor", code="invalid_cursor")
        # The redundant ``<=`` bounds the index range scan; the rest breaks ties by id.
        cond = cond & (Activity.occurred_at <= value) & (
            (Activity.occurred_at < value) | (Activity.id < last_id))
    return cond


def _branch(cond, limit: int, index: str | None = None) -> QueryString:
    """One link's rows in page order. ``index``: the link's index, named to SQLite.

    Without statistics SQLite's planner took ``org_id = ?`` (in every scope
    condition) over ``contact_id IN (...)`` and scanned the whole org's activity
    (EXPLAIN QUERY PLAN in bench/timeline.py); PostgreSQL picks the link index itself.
    """
    hint = f" INDEXED BY {index}" if index and is_sqlite() else ""
    return QueryString(f"SELECT {_SELECT} FROM activities{hint} WHERE {{}} {_ORDER} LIMIT {limit}",
                       cond.querystring)


def account_query(common, account_id: uuid.UUID, contacts: list[uuid.UUID],
                  opportunities: list[uuid.UUID], limit: int) -> QueryString:
    """The account's page: direct links, then contact- and opportunity-only links, each limited, merged."""
    branches = [(common & (Activity.account_id == account_id), "activities_account_time")]
    unlinked = common & Activity.account_id.is_null()
    if contacts:
        branches.append((unlinked & Activity.contact_id.is_in(contacts), "activities_contact_time"))
    if opportunities:
        deal_only = unlinked & Activity.opportunity_id.is_in(opportunities)
        if contacts:  # an activity on one of its contacts AND deals is in the contact branch already
            deal_only = deal_only & (Activity.contact_id.is_null() | Activity.contact_id.not_in(contacts))
        branches.append((deal_only, "activities_opportunity_time"))
    if len(branches) == 1:
        cond, index = branches[0]
        return _branch(cond, limit, index)
    parts = " UNION ALL ".join(f"SELECT * FROM ({{}}) AS b{i}" for i in range(len(branches)))
    return QueryString(f"{parts} {_ORDER} LIMIT {limit}", *(_branch(b, limit, ix) for b, ix in branches))


async def timeline(scope: Scope, kind: str, record_id: uuid.UUID, f: TimelineFilter, *,
                   limit: int | None = None, cursor: str | None = None) -> tuple[list[ActivityOut], str | None]:
    """One page of the timeline of ``kind`` (account, contact, lead, opportunity) ``record_id``.

    Returns the items and the next page's cursor (None on the last page).
    """
    limit = clamp_limit(limit)
    common = _common(scope, f, cursor)
    await _check_visible(scope, kind, record_id)
    if kind == "account":
        contacts, opportunities = await _account_links(scope.org_id, record_id)
        query = account_query(common, record_id, contacts, opportunities, limit + 1)
    else:
        column = Activity._meta.get_column_by_name(SUBJECTS[kind][1])
        query = _branch(common & (column == record_id), limit + 1, f"activities_{kind}_time")
    items = activities_out(await read_values(query))
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    return items, encode_cursor(SORT, items[-1].occurred_at, items[-1].id)
