from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from server.common.schemas import Email, Name, Page, Phone

Role = Literal["rep", "manager", "admin"]
Lat = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Lng = Annotated[float, msgspec.Meta(ge=-180, le=180)]


class UserOut(msgspec.Struct):
    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    full_name: str
    role: str
    manager_id: uuid.UUID | None
    timezone: str | None
    phone_e164: str | None
    home_lat: float | None
    home_lng: float | None
    capacity_fte: float
    active: bool
    version: int
    updated_at: datetime


def user_out(row: dict) -> UserOut:
    return UserOut(
        id=row["id"], org_id=row["org_id"], email=row["email"], full_name=row["full_name"],
        role=row["role"], manager_id=row["manager_id"], timezone=row["timezone"],
        phone_e164=row["phone_e164"], home_lat=row["home_lat"], home_lng=row["home_lng"],
        capacity_fte=float(row["capacity_fte"]), active=bool(row["active"]),
        version=row["version"], updated_at=row["updated_at"],
    )


# -- the directory: creating and changing users ------------------------------------
TimeZone = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Capacity = Annotated[float, msgspec.Meta(gt=0, le=1.5)]
#: The length rule (``MIN_PASSWORD_LENGTH``) is checked by ``create_user``.
Password = Annotated[str, msgspec.Meta(max_length=200)]


class UserIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    email: Email
    #: The initial password; the user changes it later.
    password: Password
    full_name: Name
    role: Role = "rep"
    #: A manager creating a rep may leave this out: it defaults to them.
    manager_id: uuid.UUID | None = None
    timezone: TimeZone | None = None
    phone: Phone | None = None
    home_lat: Lat | None = None
    home_lng: Lng | None = None
    capacity_fte: Capacity = 1.0


class UserPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Users change their own name, phone, time zone and home; admins everything here."""

    full_name: Name | UnsetType = UNSET
    phone: Phone | None | UnsetType = UNSET
    timezone: TimeZone | None | UnsetType = UNSET
    home_lat: Lat | None | UnsetType = UNSET
    home_lng: Lng | None | UnsetType = UNSET
    role: Role | UnsetType = UNSET
    manager_id: uuid.UUID | None | UnsetType = UNSET
    active: bool | UnsetType = UNSET
    capacity_fte: Capacity | UnsetType = UNSET


class UserPage(Page[UserOut]):
    """One keyset page; a named type so the phone's generated code gets a stable name."""
