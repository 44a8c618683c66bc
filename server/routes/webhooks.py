"""HTTP for the Twilio-compatible provider's callbacks: inbound texts and calls, delivery statuses.

Public paths (no bearer token): ``check_webhook`` admits only requests the
provider signed, then ``server.comms.inbound`` does the work in one unit of
work. Every answer is an empty TwiML document, which the provider expects
from text and voice webhooks and ignores on status callbacks. The org is in
the path because the provider is given one URL per org (``sms_from`` is
shared by nobody else, but the path is what the signature covers).
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, post
from litestar.params import FromPath, FromQuery

from server.common.errors import UnsupportedMediaType
from server.comms import inbound
from server.config import Settings
from server.db.tx import unit_of_work
from server.routes.webhook_guard import check_webhook

TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
FORM = "application/x-www-form-urlencoded"


def twiml() -> Response[bytes]:
    return Response(content=TWIML, status_code=200, media_type="text/xml")


async def signed_form(request: Request[Any, Any, Any], org_id: uuid.UUID) -> dict[str, str]:
    """The request's form fields once the provider's signature over them checks out (one value each)."""
    if request.content_type[0] != FORM:
        raise UnsupportedMediaType(f"provider webhooks are posted as {FORM}")
    fields = (await request.form()).dict()
    settings: Settings = request.app.state.settings
    await check_webhook(request, org_id, "twilio", settings.twilio_auth_token, params=fields)
    return {name: values[0] for name, values in fields.items() if values and isinstance(values[0], str)}


class TwilioWebhookController(Controller):
    path = "/api/v1/webhooks/twilio/{org_id:uuid}"
    tags = ("webhooks",)

    @post("/sms", operation_id="webhooks_twilio_sms", status_code=200)
    async def sms(self, request: Request[Any, Any, Any], org_id: FromPath[uuid.UUID]) -> Response[bytes]:
        """An inbound text to the org's number: logged on the rep's timeline, or the org's inbox."""
        form = await signed_form(request, org_id)
        async with unit_of_work():
            await inbound.text_received(org_id, form)
        return twiml()

    @post("/status", operation_id="webhooks_twilio_status", status_code=200)
    async def status(self, request: Request[Any, Any, Any], org_id: FromPath[uuid.UUID],
                     activity: FromQuery[uuid.UUID | None] = None) -> Response[bytes]:
        """Delivery status of a text we sent (`activity` is our activity id)."""
        form = await signed_form(request, org_id)
        async with unit_of_work():
            await inbound.message_status(org_id, activity, form.get("MessageSid") or form.get("SmsSid") or "",
                                         form.get("MessageStatus") or form.get("SmsStatus") or "",
                                         form.get("ErrorCode"))
        return twiml()

    @post("/call", operation_id="webhooks_twilio_call", status_code=200)
    async def call(self, request: Request[Any, Any, Any], org_id: FromPath[uuid.UUID],
                   activity: FromQuery[uuid.UUID | None] = None,
                   leg: FromQuery[str | None] = None) -> Response[bytes]:
        """Status of a click-to-call (`leg=dial`: the customer's leg), or an inbound call to the org's number."""
        form = await signed_form(request, org_id)
        async with unit_of_work():
            await inbound.call_status(org_id, activity, form, leg)
        return twiml()
