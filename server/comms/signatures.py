"""Webhook signatures in Twilio's documented scheme (pure; no I/O).

The provider signs the full URL it called, followed by every POST parameter
as name + value, names in sorted order (a repeated name: its values sorted),
with HMAC-SHA1 (or HMAC-SHA256 when the request names it in
``X-Twilio-Webhooks-Signature-Settings``) under the account's secret, base64
in ``X-Twilio-Signature``. A body that is not a form (raw MIME, JSON) is
signed through the URL alone, which then carries ``bodySHA256=<hex>`` of the
body. The URL is compared with and without its default port, as the provider
is inconsistent about it. ``tests/comms/test_signatures.py`` checks this
module against the ``twilio`` package's own validator.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qs, urlsplit, urlunsplit

SIGNATURE_HEADER = "x-twilio-signature"
SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
ALGORITHMS = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}

Params = Mapping[str, str | Iterable[str]]


def algorithm_of(settings_header: str | None) -> str:
    """The algorithm named by the settings header; none named means the legacy HMAC-SHA1."""
    for part in (settings_header or "").split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip() == "algorithm" and value.strip():
            return value.strip().upper()
    return "HMAC_SHA1"


def signing_string(url: str, params: Params | None) -> str:
    parts = [url]
    for name in sorted(set(params or ())):
        raw = (params or {})[name]
        values = [raw] if isinstance(raw, str) else list(raw)
        parts.extend(name + value for value in sorted(set(values)))
    return "".join(parts)


def sign(secret: str, url: str, params: Params | None = None, algorithm: str = "HMAC_SHA1") -> str:
    """The signature the provider puts on a request to ``url`` carrying ``params``."""
    digest = hmac.new(secret.encode(), signing_string(url, params).encode(), ALGORITHMS[algorithm]).digest()
    return base64.b64encode(digest).decode()


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _port_variants(url: str) -> tuple[str, str]:
    """``url`` without and with a port (the scheme's default when it has none)."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if parts.port is not None:
        return urlunsplit(parts._replace(netloc=userinfo + at + hostport.rsplit(":", 1)[0])), url
    default = 443 if parts.scheme == "https" else 80
    return url, urlunsplit(parts._replace(netloc=f"{userinfo}{at}{hostport}:{default}"))


def verify(secret: str, url: str, signature: str | None, *, params: Params | None = None,
           body: bytes | None = None, settings_header: str | None = None) -> bool:
    """Whether ``signature`` is the provider's signature of this request.

    ``params`` are the form fields of a form POST; ``body`` the raw body of any
    other request, which must then match the URL's ``bodySHA256``.
    """
    if not signature or not secret:
        return False
    algorithm = algorithm_of(settings_header)
    if algorithm not in ALGORITHMS:
        return False
    if body is not None:
        claimed = parse_qs(urlsplit(url).query).get("bodySHA256", [""])[0]
        if not hmac.compare_digest(claimed.encode(), body_hash(body).encode()):
            return False
        params = None
    given = signature.strip().encode()
    return any(hmac.compare_digest(sign(secret, candidate, params, algorithm).encode(), given)
               for candidate in _port_variants(url))
