from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

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
