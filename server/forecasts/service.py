"""Forecasts for the caller's scope: three grouped reads, then ``server.forecasts.model``.

Who is in the report: a rep themselves; a manager themselves and everyone below them; an admin
the whole org; ``rep_id`` narrows it to that person and everyone below them (404 when they are in
another org or outside the caller's scope). Deals count for their owner (unowned deals for no
one); ``period_end`` keeps only deals expected to close on or before it (deals without an expected
close date then drop out, and closed deals are placed by their expected close date too, not by
``closed_at``). Leads have no close date, so the conversion forecast always uses every open lead.

Team and org rates are computed from the whole org's lead history whatever the caller's scope:
they are aggregates (a count and a rate), never another person's records.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from piccolo.querystring import QueryString

from server.access.scope import Scope
from server.access.team import reports_of
from server.common.errors import NotFound
from server.db.engine import is_sqlite, read_values
from server.forecasts import model
from server.forecasts.schemas import (
    ConversionForecast,
    ForecastCategories,
    ForecastCategoryFigure,
    ForecastReport,
    ForecastRollUp,
    PersonForecast,
    PipelineForecast,
)

USERS_SQL = ("SELECT CAST(id AS TEXT), CAST(manager_id AS TEXT), full_name, role FROM users "
             "WHERE org_id = {} AND deleted_at IS NULL")
BASE_CURRENCY_SQL = "SELECT base_currency FROM organisations WHERE id = {}"
#: Cents are summed as integers on both engines (SQLite keeps NUMERIC as a float).
DEALS_SQL = ("SELECT CAST(owner_id AS TEXT), stage, currency, probability, COUNT(*), "
             "SUM(ROUND(amount * 100)) FROM opportunities "
             "WHERE org_id = {{}} AND deleted_at IS NULL AND owner_id IS NOT NULL{where} "
             "GROUP BY owner_id, stage, currency, probability")
LEADS_SQL = ("SELECT CAST(l.owner_id AS TEXT), l.status, o.stage, o.currency, COUNT(*), "
             "SUM(ROUND(o.amount * 100)) FROM leads l "
             "LEFT JOIN opportunities o ON o.id = l.opportunity_id AND o.deleted_at IS NULL "
             "WHERE l.org_id = {} AND l.deleted_at IS NULL AND l.owner_id IS NOT NULL "
             "GROUP BY l.owner_id, l.status, o.stage, o.currency")


def _uuid(value: Any) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(str(value))


def _int(value: Any) -> int:
    return 0 if value is None else int(value)


async def _users(org_id: uuid.UUID) -> tuple[dict[uuid.UUID, uuid.UUID | None], dict[uuid.UUID, tuple[str, str]]]:
    links, about = {}, {}
    for user, manager, name, role in await read_values(QueryString(USERS_SQL, org_id)):
        uid = _uuid(user)
        links[uid] = _uuid(manager)
        about[uid] = (name, role)
    return links, about


async def _deals(org_id: uuid.UUID, owners: list[uuid.UUID] | None,
                 period_end: date | None) -> list[model.DealGroup]:
    where, args = "", []
    if owners is not None:
        where += f" AND owner_id IN ({', '.join('{}' for _ in owners)})"
        args += owners
    if period_end is not None:
        where += " AND expected_close_date <= {}"
        args.append(period_end.isoformat() if is_sqlite() else period_end)
    rows = await read_values(QueryString(DEALS_SQL.format(where=where), org_id, *args))
    return [model.DealGroup(_uuid(o), s, c, int(p), int(n), _int(cents))
            for o, s, c, p, n, cents in rows]


async def _leads(org_id: uuid.UUID) -> list[model.LeadGroup]:
    rows = await read_values(QueryString(LEADS_SQL, org_id))
    return [model.LeadGroup(_uuid(o), st, stage, cur, int(n), _int(cents))
            for o, st, stage, cur, n, cents in rows]


def people_in_report(scope: Scope, links: dict[uuid.UUID, uuid.UUID | None],
                     rep_id: uuid.UUID | None) -> set[uuid.UUID]:
    visible = set(links) if scope.members is None else set(scope.members) & set(links)
    if rep_id is None:
        return visible
    if rep_id not in visible:
        raise NotFound("no such rep in your scope", code="not_found", field="rep_id")
    return ({rep_id} | reports_of(rep_id, links.items())) & visible


def _pipeline_out(figures: model.Figures, base: str) -> list[PipelineForecast]:
    out = []
    for currency in sorted(figures, key=lambda c: (c != base, c)):
        p = figures[currency]
        cats = {c: ForecastCategoryFigure(count=p.counts[c], amount=model.money(p.cents[c]))
                for c in model.CATEGORIES}
        out.append(PipelineForecast(currency=currency, weighted_pipeline=p.weighted,
                                    open_deals=p.open_deals, categories=ForecastCategories(**cats)))
    return out


def _conversion_out(c: model.Conversion, base: str) -> ConversionForecast:
    return ConversionForecast(
        currency=base, open_leads=c.open_leads, basis=c.basis, sample=c.sample, wins=c.wins,
        rate=None if c.rate is None else float(c.rate),
        avg_deal=None if c.avg_deal_cents is None else model.money(c.avg_deal_cents),
        amount=None if c.amount_cents is None else model.money(c.amount_cents),
    )


async def forecasts(scope: Scope, *, rep_id: uuid.UUID | None = None,
                    period_end: date | None = None) -> ForecastReport:
    org_id = scope.org_id
    links, about = await _users(org_id)
    people = people_in_report(scope, links, rep_id)
    base_rows = await read_values(QueryString(BASE_CURRENCY_SQL, org_id))
    base = base_rows[0][0] if base_rows else "USD"
    owners = None if scope.members is None and rep_id is None else sorted(people)
    own = model.pipelines(await _deals(org_id, owners, period_end)) if people else {}
    tallies = model.tally_leads(await _leads(org_id), base)
    org_tally = model.total(tallies.values())

    conversions: dict[uuid.UUID, model.Conversion] = {}
    for user in people:
        team = model.team_of(user, links)
        team_tally = None if team is None else model.total(tallies.get(u, model.LeadTally()) for u in team)
        conversions[user] = model.conversion(tallies.get(user, model.LeadTally()), team_tally, org_tally)

    nodes = model.tree(people, links)
    rolled = model.roll_up(nodes, own)
    out = []
    for node in nodes:
        rolled_up = None
        if node.below:
            group = [conversions[u] for u in (node.user_id, *node.below)]
            rolled_up = ForecastRollUp(
                people=len(group), pipeline=_pipeline_out(rolled[node.user_id], base),
                open_leads=sum(c.open_leads for c in group),
                # The sum of the amounts as shown, so the roll-up adds up to the cent.
                conversion_amount=sum((model.money(c.amount_cents) for c in group if c.amount_cents is not None),
                                      start=model.money(0)),
                unrated=sum(c.amount_cents is None for c in group),
            )
        name, role = about[node.user_id]
        out.append(PersonForecast(
            user_id=node.user_id, full_name=name, role=role, parent_id=node.parent, depth=node.depth,
            pipeline=_pipeline_out(own.get(node.user_id, {}), base),
            conversion=_conversion_out(conversions[node.user_id], base), rolled_up=rolled_up,
        ))
    return ForecastReport(base_currency=base, period_end=period_end, min_sample=model.MIN_SAMPLE,
                          category_rule=model.CATEGORY_RULE, people=out)



