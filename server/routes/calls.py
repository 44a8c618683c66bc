"""HTTP for click-to-call: parse, call ``server.comms.calls``, return the call's activity."""

from __future__ import annotations

from litestar import Controller, Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from server.access.scope import Scope
from server.comms import calls as service
from server.comms.schemas import ActivityOut, activity_out
from server.db.tx import unit_of_work
from server.routes.common import etag


class CallController(Controller):
    path = "/api/v1/calls"
    tags = ("activities",)

    @post("/", operation_id="calls_start")
    async def start_call(self, data: JSONBody[service.CallIn],
                         access: NamedDependency[Scope]) -> Response[ActivityOut]:
        """Ring the caller's phone, then connect the customer (202: the provider is asked after commit).

        The number is `to`, else the contact's, else the account's. The call is
        an activity with status `queued`; its outcome, duration and verification
        arrive from the provider and reach the phone on its next sync. The same
        `id` again returns the same call (200) and rings nobody.
        """
        async with unit_of_work():
            row, created = await service.start_call(access, data)
        return Response(activity_out(row), status_code=202 if created else 200, headers=etag(row["version"]))
