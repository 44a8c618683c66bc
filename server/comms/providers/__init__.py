"""What the outbox hands a provider, and how a provider says no.

A provider sends one :class:`Outgoing` per call to ``send`` and returns the
provider's reference for it (the email's Message-ID, the text's or call's
SID), or raises :class:`ProviderError`: ``permanent`` when trying again cannot
help (a refused recipient, an invalid number), else the sender retries with
backoff. Providers never touch the database.
"""

from __future__ import annotations

import uuid
from typing import Protocol

import msgspec


class Outgoing(msgspec.Struct, frozen=True, kw_only=True):
    activity_id: uuid.UUID
    channel: str  # email | text | call
    #: The same on every attempt: the email's Message-ID (``<...>``), the provider's idempotency token.
    key: str
    #: Email address or E.164 number of the customer.
    to: str
    #: The org's From address or number.
    sender: str
    subject: str | None = None
    body: str | None = None
    #: The rep, so replies reach them (email) and click-to-call rings them first.
    rep_name: str | None = None
    rep_email: str | None = None
    rep_phone: str | None = None
    #: Where the provider reports delivery and call progress (None: no callbacks).
    status_callback: str | None = None


class ProviderError(Exception):
    def __init__(self, reason: str, *, permanent: bool, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason[:300]
        self.permanent = permanent
        self.retry_after_s = retry_after_s


class Provider(Protocol):
    async def send(self, item: Outgoing) -> str: ...

    async def aclose(self) -> None: ...
