"""HTTP for check-in review: the account location changes managers look at.

A rep moving an account's location is how a check-in could be made to verify;
every change is kept (``server.accounts.location_history``) and a rep's move of
a set location is flagged. Managers see their team's changes, admins the org's,
reps none (403).
"""

from __future__ import annotations

import uuid

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from server.access.scope import Scope
from server.accounts import location_history as service
from server.accounts.location_history import LocationChangePage


class CheckInController(Controller):
    path = "/api/v1/accounts/location-changes"
    tags = ["check-ins"]

    @get("/", operation_id="accounts_location_changes")
    async def list_location_changes(
        self,
        access: NamedDependency[Scope],
        flagged: FromQuery[bool | None] = None,
        account_id: FromQuery[uuid.UUID | None] = None,
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> LocationChangePage:
        """Changes of accounts' locations, newest first; `flagged=true`: moves by reps, for review."""
        return await service.list_location_changes(access, flagged=flagged, account_id=account_id,
                                                   limit=limit, cursor=cursor)
