"""HTTP for forecasts: parse, call ``server.forecasts.service``, return the report."""

from __future__ import annotations

import uuid
from datetime import date

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from server.access.scope import Scope
from server.forecasts import service
from server.forecasts.schemas import ForecastReport


class ForecastController(Controller):
    path = "/api/v1/forecasts"
    tags = ("forecasts",)

    @get("", operation_id="forecasts_get")
    async def get_forecasts(
        self,
        access: NamedDependency[Scope],
        rep_id: FromQuery[uuid.UUID | None] = None,
        period_end: FromQuery[date | None] = None,
    ) -> ForecastReport:
        """Weighted pipeline, conversion-rate forecast and forecast categories per person, as a tree
        (depth first, `parent_id` links): a rep sees themselves, a manager themselves and everyone
        below, an admin the org; `rep_id` narrows to that person and everyone below them (404 outside
        the caller's scope). Managers also get `rolled_up`: their own figures plus everyone's below.
        `period_end` (YYYY-MM-DD) keeps only deals expected to close on or before that day. Amounts
        stay per currency (no FX conversion); the conversion forecast shows its `basis` (rep, team or
        org) and `sample`."""
        return await service.forecasts(access, rep_id=rep_id, period_end=period_end)
