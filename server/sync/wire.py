"""Records as phones store them: snake_case columns, string ids, numbers for times.

Timestamps travel as integer milliseconds since the Unix epoch (what a phone
database sorts and compares cheaply), dates as ``YYYY-MM-DD``, money as a
decimal string (no float rounding), JSON columns as JSON text. Pure functions.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from server.common.errors import Invalid
from server.common.schemas import money
from server.sync.registry import Kind, SyncedTable, api_field

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_millis(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - EPOCH) // _MS


_MS = datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC) - EPOCH


def from_millis(value: float) -> datetime:
    return EPOCH + _MS * int(value)


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


_OUT: dict[Kind, Callable[[Any], Any]] = {
    "uuid": str,
    "text": str,
    "int": int,
    "float": float,
    "bool": bool,
    "timestamp": to_millis,
    "date": lambda v: v.isoformat() if isinstance(v, date) else str(v),
    "decimal": lambda v: format(money(v), "f"),  # two decimals on both engines
    "json": _json_text,
}


def encoder(columns: dict[str, Kind]) -> Callable[[dict], dict]:
    """A function turning a database row into a wire record with these columns."""
    plan = [(name, _OUT[kind]) for name, kind in columns.items()]

    def encode(row: dict) -> dict:
        out = {}
        for name, conv in plan:
            value = row.get(name)
            out[name] = None if value is None else conv(value)
        return out

    return encode


def _stored_millis(value: str) -> int:
    return to_millis(datetime.fromisoformat(value))


#: SQLite's stored values (ids and times are text, booleans integers) -> wire values.
_FROM_STORED: dict[Kind, Callable[[Any], Any] | None] = {
    "uuid": None, "text": None, "json": None, "date": None, "int": None, "float": float,
    "bool": bool, "timestamp": _stored_millis, "decimal": _OUT["decimal"],
}


def stored_encoder(columns: dict[str, Kind]) -> Callable[[tuple], dict]:
    """Like :func:`encoder`, for tuples of SQLite's stored values in ``columns`` order."""
    names = list(columns)
    plan = [(i, name, _FROM_STORED[kind]) for i, (name, kind) in enumerate(columns.items())]
    if all(conv is None for _, _, conv in plan):
        return lambda row: dict(zip(names, row, strict=False))

    def encode(row: tuple) -> dict:
        out = dict(zip(names, row, strict=False))
        for i, name, conv in plan:
            if conv is not None and row[i] is not None:
                out[name] = conv(row[i])
        return out

    return encode


def _in_timestamp(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value  # let the feature's type report it (ISO strings are accepted too)
    return from_millis(value).isoformat()


def to_api_fields(spec: SyncedTable, fields: dict[str, Any]) -> dict[str, Any]:
    """Wire fields -> the feature's API field names and value shapes (validation is the feature's)."""
    kinds = spec.columns
    out: dict[str, Any] = {}
    for name, value in fields.items():
        kind = kinds.get(name)
        if kind == "timestamp" and value is not None:
            value = _in_timestamp(value)
        elif kind == "uuid" and isinstance(value, uuid.UUID):
            value = str(value)
        out[api_field(name)] = value
    return out


def check_columns(spec: SyncedTable, fields: dict[str, Any], schema_version: int, *, insert: bool) -> None:
    """Every pushed column must exist (for this schema version) and be the client's to write."""
    known = spec.columns_for(schema_version)
    writers = spec.writers
    for name in fields:
        if name not in known:
            raise Invalid(f"{spec.name} has no column {name!r}", field=name, code="unknown_column")
        writer = writers[name]
        if writer == "server" or (writer == "insert" and not insert):
            what = "set by the server" if writer == "server" else "fixed once the record is created"
            raise Invalid(f"{spec.name}.{name} is {what}", field=name, code="read_only_column")
