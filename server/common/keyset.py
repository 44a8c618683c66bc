"""Keyset pagination: opaque cursors over a (sort value, id) pair.

Pages stay stable while rows are inserted: the next page starts strictly after
the last row seen, by sort key then id, never at an offset. Pure functions.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

import msgspec

from server.common.errors import Invalid

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


class Cursor(msgspec.Struct, array_like=True, frozen=True):
    sort: str
    value: Any
    id: str


def encode_cursor(sort: str, value: Any, row_id: uuid.UUID) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = msgspec.json.encode(Cursor(sort, value, str(row_id)))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, sort: str) -> tuple[Any, uuid.UUID]:
    """Return (sort value, id) of the last row seen; ``Invalid`` for a foreign or bad cursor."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        cur = msgspec.json.decode(raw, type=Cursor)
        row_id = uuid.UUID(cur.id)
    except (ValueError, msgspec.DecodeError):
        raise Invalid("malformed cursor", field="cursor", code="invalid_cursor") from None
    if cur.sort != sort:
        raise Invalid("cursor belongs to another sort order", field="cursor", code="invalid_cursor")
    value = cur.value
    if sort.lstrip("-").endswith("_at") and isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise Invalid("malformed cursor", field="cursor", code="invalid_cursor") from None
    return value, row_id


def after(column, id_column, value: Any, row_id: uuid.UUID, descending: bool):
    """Piccolo condition for rows after (value, row_id) in (column, id) order.

    Sort columns are NOT NULL: SQLite and PostgreSQL order NULLs differently.
    """
    if descending:
        return (column < value) | ((column == value) & (id_column < row_id))
    return (column > value) | ((column == value) & (id_column > row_id))


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit
