"""Texts and click-to-call through a Twilio-compatible REST API.

Two resources of the ``2010-04-01`` API are used, both form-encoded POSTs under
``/2010-04-01/Accounts/{AccountSid}/`` with HTTP Basic auth (account SID, auth
token):

* ``Messages.json`` sends a text: ``To``, ``From``, ``Body`` and, when we want
  delivery reports, ``StatusCallback``.
* ``Calls.json`` places a call. Click-to-call rings the rep first (``To`` is the
  rep's phone); when the rep answers, the provider runs the TwiML we pass inline
  (``Twiml``), which ``<Dial>``s the customer with the org's number as caller
  ID. ``StatusCallback`` + ``StatusCallbackEvent`` report the rep's leg; the
  ``<Dial action>`` URL (our callback with ``leg=dial``) hears how the customer's
  leg ended.

Both answer 201 with the created resource as JSON; its ``sid`` is our
reference. Errors come as ``{"code": 21211, "message": "...", "status": 400}``.
The outbox key travels as ``I-Twilio-Idempotency-Token`` on every attempt, so a
provider that honours it drops the resend of a request it already accepted (a
crash or a lost response between its accepting and our recording the SID).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from xml.sax.saxutils import escape, quoteattr

import httpx

from server.comms.providers import Outgoing, ProviderError

API_VERSION = "2010-04-01"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
#: Call progress we want to hear about on the rep's leg.
CALL_EVENTS = ("initiated", "ringing", "answered", "completed")

Form = dict[str, str | list[str]]


def with_query(url: str, name: str, value: str) -> str:
    """``url`` with one more query parameter, whether or not it already has a query."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(name, value)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def dial_twiml(caller_id: str, number: str, action: str | None) -> str:
    """TwiML that connects the answered rep to ``number``; ``action`` hears how that leg ended."""
    attrs = f"callerId={quoteattr(caller_id)}"
    if action:
        attrs += f" action={quoteattr(action)}"
    return f"<Response><Dial {attrs}>{escape(number)}</Dial></Response>"


def text_form(item: Outgoing) -> Form:
    form: Form = {"To": item.to, "From": item.sender, "Body": item.body or ""}
    if item.status_callback:
        form["StatusCallback"] = item.status_callback
    return form


def call_form(item: Outgoing) -> Form:
    if not item.rep_phone:
        raise ProviderError("the rep has no phone number to ring", permanent=True)
    action = with_query(item.status_callback, "leg", "dial") if item.status_callback else None
    form: Form = {"To": item.rep_phone, "From": item.sender,
                  "Twiml": dial_twiml(item.sender, item.to, action)}
    if item.status_callback:
        form["StatusCallback"] = item.status_callback
        form["StatusCallbackEvent"] = list(CALL_EVENTS)
    return form


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the provider asks us to wait: ``Retry-After`` as seconds or as an HTTP date."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def error_from(response: httpx.Response) -> ProviderError:
    """The refusal as a ProviderError: throttling and server faults pass, the rest is final."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        reason = f"twilio {body.get('code') or response.status_code}: {body['message']}"
    else:
        reason = f"twilio {response.status_code}: {response.reason_phrase or 'error'}"
    transient = response.status_code == 429 or response.status_code >= 500
    return ProviderError(reason, permanent=not transient,
                         retry_after_s=retry_after(response) if transient else None)


class TwilioClient:
    """Sends texts and places click-to-call calls; one instance serves every org of a sender."""

    def __init__(self, base_url: str, account_sid: str, auth_token: str, *,
                 http: httpx.AsyncClient | None = None, timeout: float = 15.0) -> None:
        self.account_url = f"{base_url.rstrip('/')}/{API_VERSION}/Accounts/{account_sid}"
        self.auth = httpx.BasicAuth(account_sid, auth_token)
        self.timeout = timeout
        self._owns_http = http is None
        self.http = http if http is not None else httpx.AsyncClient(timeout=timeout)

    async def send(self, item: Outgoing) -> str:
        if item.channel == "text":
            resource, form = "Messages.json", text_form(item)
        elif item.channel == "call":
            resource, form = "Calls.json", call_form(item)
        else:
            raise ValueError(f"TwilioClient cannot send a {item.channel!r}")
        try:
            response = await self.http.post(
                f"{self.account_url}/{resource}", data=form, auth=self.auth,
                headers={IDEMPOTENCY_HEADER: item.key}, timeout=self.timeout)
        except httpx.TransportError as exc:
            raise ProviderError(f"twilio unreachable: {exc!r}", permanent=False) from exc
        if not response.is_success:
            raise error_from(response)
        try:
            sid = response.json().get("sid")
        except (ValueError, AttributeError):
            sid = None
        if not isinstance(sid, str) or not sid:
            raise ProviderError(f"twilio {response.status_code} without a sid", permanent=False)
        return sid

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()
