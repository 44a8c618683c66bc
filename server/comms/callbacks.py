"""Where providers reach an org: the one layout of the webhook URLs, for every place that builds them.

The routes that serve them are ``server/routes/webhooks.py`` (Twilio-compatible)
and ``server/routes/email_webhooks.py``.
"""

from __future__ import annotations

import uuid


def twilio_url(base: str, org_id: uuid.UUID, kind: str) -> str:
    """``kind``: ``sms`` (inbound texts), ``status`` (texts we sent), ``call`` (calls)."""
    return f"{base.rstrip('/')}/api/v1/webhooks/twilio/{org_id}/{kind}"


def email_url(base: str, org_id: uuid.UUID) -> str:
    return f"{base.rstrip('/')}/api/v1/webhooks/email/{org_id}"
