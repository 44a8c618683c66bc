"""HTTP for inbound email: a provider posts each email it received for an org's address.

Two styles, told apart by the content type:

* ``message/rfc822``: the raw MIME is the body; the provider signs the URL,
  which carries ``?bodySHA256=<hex sha256 of the body>``;
* ``application/x-www-form-urlencoded`` or ``multipart/form-data``: fields the
  provider parsed (``from``, ``to``, ``cc``, ``subject``, ``text``, ``html``,
  ``headers``) or the raw MIME in an ``email`` field; the form fields are
  signed. File parts (attachments) are neither signed nor kept.

The signature (Twilio's scheme, ``server.routes.webhook_guard``) is checked
before anything is read from the message; then it is parsed
(``server.comms.mime``, 422 ``malformed_mime``) and taken in once
(``server.comms.inbound.receive``): logged on the rep who owns the
conversation, or put in the org's inbox. A replay answers 200 and stores
nothing. The route needs no bearer token (``PUBLIC_PATHS``): the signature is the credential.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import msgspec
from litestar import Controller, Request, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath

from server.common.errors import Invalid, UnsupportedMediaType
from server.common.time import utcnow
from server.comms import inbound, mime
from server.comms.inbound import Inbound
from server.db.tx import unit_of_work
from server.routes.webhook_guard import check_webhook

RAW_TYPES = ("message/rfc822",)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class EmailReceived(msgspec.Struct, omit_defaults=True):
    #: ``logged`` (on a rep's timeline), ``inbox`` (for an admin to sort out) or ``replay`` (seen before).
    outcome: str
    activity_id: uuid.UUID | None = None
    inbox_id: uuid.UUID | None = None


def _secret(request: Request) -> str | None:
    settings = request.app.state.settings
    return settings.inbound_email_secret or settings.twilio_auth_token


async def _form(request: Request) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The form's text fields: every value (what was signed) and the first of each (what is read)."""
    form = await request.form()
    params: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if not isinstance(value, UploadFile):
            params.setdefault(name, []).append(value)
    return params, {name: values[0] for name, values in params.items()}


def _parsed(parse: Callable[[Any], mime.ParsedEmail], payload: Any) -> mime.ParsedEmail:
    """``parse(payload)``, a refusal as 422 ``malformed_mime`` with the parser's reason."""
    try:
        return parse(payload)
    except mime.MalformedEmail as exc:
        raise Invalid(str(exc), code="malformed_mime") from None


class EmailWebhookController(Controller):
    path = "/api/v1/webhooks/email/{org_id:uuid}"
    tags = ("webhooks",)

    @post("/", operation_id="webhooks_email_receive", status_code=200)
    async def receive(self, request: Request, org_id: FromPath[uuid.UUID]) -> EmailReceived:
        """One inbound email for the org, signed with the provider's `X-Twilio-Signature`.

        `message/rfc822`: the raw MIME (the signed URL carries `bodySHA256`); a form: parsed
        fields or the raw MIME in `email`. 403 `invalid_signature`, 422 `malformed_mime`,
        415 `unsupported_media_type`, 404 for an unknown org, 429 `rate_limited`.
        """
        media_type = request.content_type[0].lower()
        if media_type in RAW_TYPES:
            raw = await request.body()
            await check_webhook(request, org_id, "email", _secret(request), body=raw)
            parsed, payload = _parsed(mime.parse_mime, raw), raw
        elif media_type in FORM_TYPES:
            params, fields = await _form(request)
            await check_webhook(request, org_id, "email", _secret(request), params=params)
            parsed, payload = _parsed(mime.parsed_fields, fields), mime.fields_payload(fields)
        else:
            raise UnsupportedMediaType(
                f"send message/rfc822 or a form, not {media_type or 'no content type'}")
        now = utcnow()
        msg = Inbound(
            channel="email", sender=parsed.sender,
            recipient=parsed.recipients[0] if parsed.recipients else None,
            subject=parsed.subject, body=parsed.text, occurred_at=mime.received_time(parsed.date, now),
            provider="email", ref=mime.email_ref(parsed, payload), replying_to=mime.replying_to(parsed))
        async with unit_of_work():
            result = await inbound.receive(org_id, msg)
        return EmailReceived(**result)
