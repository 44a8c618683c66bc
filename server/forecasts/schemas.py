"""Wire types for forecasts. Money is a decimal string with two places (``"1250.50"``), per
currency: there is no FX table, so amounts in different currencies are never added."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Literal

import msgspec

Basis = Literal["rep", "team", "org"]


class ForecastCategoryFigure(msgspec.Struct, kw_only=True):
    count: int
    amount: Decimal


class ForecastCategories(msgspec.Struct, kw_only=True):
    """Deals per forecast category (the rule is the report's ``category_rule``)."""

    pipeline: ForecastCategoryFigure
    best_case: ForecastCategoryFigure
    commit: ForecastCategoryFigure
    closed: ForecastCategoryFigure
    omitted: ForecastCategoryFigure


class PipelineForecast(msgspec.Struct, kw_only=True):
    """One currency's deals: weighted pipeline and categories."""

    currency: str
    #: Sum over open deals of amount x the deal's probability.
    weighted_pipeline: Decimal
    open_deals: int
    categories: ForecastCategories


class ConversionForecast(msgspec.Struct, kw_only=True):
    """Open leads x historical lead-to-win rate x average won deal, in the base currency."""

    currency: str
    open_leads: int
    #: Whose history gave the rate: the person's, their team's or the org's.
    basis: Basis
    #: Closed leads at that level (wins + lost or disqualified) and the wins among them.
    sample: int
    wins: int
    #: wins / sample; null when even the org's sample is under ``min_sample``.
    rate: float | None
    #: Mean amount of those wins' deals in the base currency; null without any.
    avg_deal: Decimal | None
    #: Null when the rate is unknown.
    amount: Decimal | None


class ForecastRollUp(msgspec.Struct, kw_only=True):
    """A person's own figures plus everyone's below them in the report."""

    people: int
    pipeline: list[PipelineForecast]
    open_leads: int
    #: Sum of the known conversion forecasts; ``unrated`` people had none.
    conversion_amount: Decimal
    unrated: int


class PersonForecast(msgspec.Struct, kw_only=True):
    user_id: uuid.UUID
    full_name: str
    role: str
    #: The person's manager when listed in this report, else null (a root of the tree).
    parent_id: uuid.UUID | None
    depth: int
    #: Their own deals, per currency, the base currency first.
    pipeline: list[PipelineForecast]
    conversion: ConversionForecast
    #: For people with someone below them in the report; null otherwise.
    rolled_up: ForecastRollUp | None


class ForecastReport(msgspec.Struct, kw_only=True):
    base_currency: str
    #: Only deals expected to close on or before this day count (null: all deals).
    period_end: date | None
    min_sample: int
    category_rule: str
    #: The tree, depth first: each person follows their manager (``parent_id``).
    people: list[PersonForecast]
