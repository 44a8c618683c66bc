"""HTTP for metrics: parse, call ``server.metrics.query``, return the report."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter

from server.access.scope import Scope
from server.metrics import query as service
from server.metrics.schemas import MetricsReport

FromDate = Annotated[date | None, QueryParameter(
    name="from", required=False, description="First local day (YYYY-MM-DD); default 29 days before `to`.")]
ToDate = Annotated[date | None, QueryParameter(
    name="to", required=False, description="Last local day (YYYY-MM-DD), inclusive; default today.")]


class MetricsController(Controller):
    path = "/api/v1/metrics"
    tags = ("metrics",)

    @get("", operation_id="metrics_get")
    async def get_metrics(
        self,
        access: NamedDependency[Scope],
        rep_id: FromQuery[uuid.UUID | None] = None,
        team_id: FromQuery[uuid.UUID | None] = None,
        territory_id: FromQuery[uuid.UUID | None] = None,
        period: FromQuery[str] = "day",
        from_date: FromDate = None,
        to_date: ToDate = None,
    ) -> MetricsReport:
        """Activity and pipeline measures with their ratios per day, ISO week, month or quarter, for
        one rep, a team (members on the days they were in it), a territory, or (none given) the
        caller's scope: the org for admins, the team for managers, themselves for reps. Ratios carry
        numerator and denominator and are null under their minimum denominator; at most 400 days."""
        return await service.metrics(access, rep_id=rep_id, team_id=team_id, territory_id=territory_id,
                                     period=period, from_date=from_date, to_date=to_date)
