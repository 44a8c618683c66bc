"""Pull cursors: opaque, signed positions in an organisation's change log.

A cursor names the session's target version (``target``: everything at or
below it is committed), the version the device already holds (``since``), the
scope keys it was issued under, and where inside the session the next page
starts (table index, stream, key). It is signed, so a forged or foreign cursor
is refused (409 ``cursor_invalid``) instead of leaking or skipping data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from typing import Any

import msgspec

from server.common.errors import Conflict

FORMAT = 1


class Cursor(msgspec.Struct, array_like=True, frozen=True):
    format: int
    org_id: str
    user_id: str
    target: int
    since: int
    scope: str
    table: int = 0
    stream: int = 0
    key: Any = None
    #: A repair session re-pulls only these id buckets (table -> buckets).
    buckets: dict[str, list[int]] | None = None

    @property
    def done(self) -> bool:
        """A finished session: the next pull starts a new one from ``target``."""
        return self.since == self.target and self.table == 0 and self.stream == 0 and self.key is None


def _sign(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).digest()[:16]


def encode(cursor: Cursor, secret: bytes) -> str:
    payload = msgspec.msgpack.encode(cursor)
    return base64.urlsafe_b64encode(_sign(secret, payload) + payload).decode().rstrip("=")


def decode(token: str, secret: bytes, *, org_id: uuid.UUID, user_id: uuid.UUID) -> Cursor:
    """The cursor in ``token``; ``Conflict(cursor_invalid)`` if forged, damaged or someone else's."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        raise _invalid() from None
    mac, payload = raw[:16], raw[16:]
    if len(mac) < 16 or not hmac.compare_digest(mac, _sign(secret, payload)):
        raise _invalid()
    try:
        cursor = msgspec.msgpack.decode(payload, type=Cursor)
    except msgspec.DecodeError:
        raise _invalid() from None
    if cursor.format != FORMAT or cursor.org_id != str(org_id) or cursor.user_id != str(user_id):
        raise _invalid()
    return cursor


def _invalid() -> Conflict:
    return Conflict("this cursor was not issued to this user; pull again from the start (cursor: null)",
                    code="cursor_invalid", field="cursor")
