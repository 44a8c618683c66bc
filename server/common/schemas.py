"""Wire types shared by every feature."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Generic, TypeVar

import msgspec
from msgspec import UNSET

T = TypeVar("T")

Lat = Annotated[float, msgspec.Meta(ge=-90, le=90, description="WGS84 latitude")]
Lng = Annotated[float, msgspec.Meta(ge=-180, le=180, description="WGS84 longitude")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
ShortText = Annotated[str, msgspec.Meta(max_length=200)]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")]
Email = Annotated[str, msgspec.Meta(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Phone = Annotated[str, msgspec.Meta(max_length=40)]


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    #: Pass as ``cursor`` for the next page; null on the last page.
    next_cursor: str | None


def patch_fields(patch: msgspec.Struct) -> dict:
    """The fields a PATCH body actually carries (``null`` included, absent left out)."""
    return {f: getattr(patch, f) for f in patch.__struct_fields__ if getattr(patch, f) is not UNSET}


CENTS = Decimal("0.01")


def money(value: Decimal | float | None) -> Decimal | None:
    """Amounts leave with two decimals on both engines (SQLite hands back floats' digits)."""
    return None if value is None else Decimal(str(value)).quantize(CENTS)


class MergeIn(msgspec.Struct, forbid_unknown_fields=True):
    """The duplicate to fold into the record named in the path."""

    duplicate_id: uuid.UUID
