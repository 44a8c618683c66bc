"""The gate every provider webhook passes before anything is read into the database.

Webhooks carry no bearer token (they are public paths): a request is the
provider's because it carries the provider's HMAC signature of the URL it
called and of its parameters (:mod:`server.comms.signatures`). Behind a proxy
the URL we see is not the one the provider signed, so it is rebuilt on
``settings.public_url``, the address providers are given.

The signature is checked before the rate limit, so a flood of unsigned
requests cannot use up an org's budget and block the provider's real ones.
The limiter lives in process memory, one per app (``server.auth.ratelimit``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from litestar import Request

from server.auth.ratelimit import SlidingWindowLimiter
from server.common.errors import Forbidden, TooManyRequests
from server.comms import signatures
from server.config import Settings

LIMITER_KEY = "webhook_limiter"


def signed_url(request: Request[Any, Any, Any], settings: Settings) -> str:
    """The URL the provider called, as it signed it: on ``public_url`` when one is set."""
    if not settings.public_url:
        return str(request.url)
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else request.scope["path"]
    query = request.scope.get("query_string", b"").decode("latin-1")
    return settings.public_url.rstrip("/") + path + ("?" + query if query else "")


def limiter(request: Request[Any, Any, Any], settings: Settings) -> SlidingWindowLimiter:
    state = request.app.state
    found = state.get(LIMITER_KEY)
    if found is None:
        found = state[LIMITER_KEY] = SlidingWindowLimiter(settings.webhook_requests_per_minute, 60)
    return found


async def check_webhook(request: Request[Any, Any, Any], org_id: uuid.UUID, kind: str, secret: str | None, *,
                        params: Mapping[str, str | list[str]] | None = None, body: bytes | None = None) -> None:
    """403 ``invalid_signature`` unless the provider signed this request; 429 over the org's budget.

    ``params`` are the fields of a form POST; ``body`` the raw body of any other
    kind (signed through the URL's ``bodySHA256``).
    """
    settings: Settings = request.app.state.settings
    ok = bool(secret) and signatures.verify(
        secret or "", signed_url(request, settings), request.headers.get(signatures.SIGNATURE_HEADER),
        params=params, body=body, settings_header=request.headers.get(signatures.SETTINGS_HEADER))
    if not ok:
        raise Forbidden("the webhook signature is missing or wrong", code="invalid_signature")
    wait = limiter(request, settings).hit(f"{org_id}|{kind}")
    if wait:
        raise TooManyRequests(f"too many {kind} webhooks for this organisation; retry in {wait} s",
                              retry_after=wait)
