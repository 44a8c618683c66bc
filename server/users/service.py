"""Users: creation, lookup and the manager chain."""

from __future__ import annotations

import uuid

from server.auth.passwords import MIN_PASSWORD_LENGTH, hash_password
from server.common.errors import Conflict, Invalid, NotFound
from server.common.phones import normalize_phone
from server.common.time import utcnow
from server.db.clock import next_version
from server.db.ids import new_id
from server.geo.cells import latlng_to_cell, valid_latlng
from server.orgs.service import check_timezone
from server.orgs.tables import ManagerLink
from server.users.tables import ROLES, User


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254 or email.startswith("@") or email.endswith("@"):
        raise Invalid(f"not an email address: {email!r}", field="email", code="invalid_email")
    return email


async def get_by_email(email: str) -> dict | None:
    return await User.select().where(
        (User.email == normalize_email(email)) & User.deleted_at.is_null()
    ).first()


async def create_user(
    org_id: uuid.UUID,
    *,
    email: str,
    password: str,
    full_name: str,
    role: str = "rep",
    manager_id: uuid.UUID | None = None,
    timezone: str | None = None,
    phone: str | None = None,
    home: tuple[float, float] | None = None,
    capacity_fte: float = 1.0,
    password_time_cost: int = 3,
) -> uuid.UUID:
    """Create a user of ``org_id``. Call inside a unit of work."""
    email = normalize_email(email)
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", field="role")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"password must have at least {MIN_PASSWORD_LENGTH} characters",
                      field="password", code="weak_password")
    if not 0 < capacity_fte <= 1.5:
        raise Invalid("capacity_fte must be in (0, 1.5]", field="capacity_fte")
    if timezone:
        check_timezone(timezone)
    if home and not valid_latlng(*home):
        raise Invalid("home location out of range", field="home")
    if await User.exists().where(User.email == email):
        raise Conflict(f"a user with email {email} exists", code="user_exists")
    if manager_id is not None:
        manager = await User.select(User.role).where(
            (User.id == manager_id) & (User.org_id == org_id) & User.deleted_at.is_null()
        ).first()
        if manager is None:
            raise NotFound("manager not found in this organisation", field="manager")
        if manager["role"] == "rep":
            raise Invalid("a rep cannot manage other users", field="manager")
    user_id = new_id()
    now = utcnow()
    await User.insert(User(
        id=user_id, org_id=org_id, email=email, full_name=full_name.strip() or email,
        password_hash=hash_password(password, password_time_cost), role=role,
        manager_id=manager_id, timezone=timezone, phone_e164=normalize_phone(phone),
        home_lat=home[0] if home else None, home_lng=home[1] if home else None,
        home_cell=latlng_to_cell(*home) if home else None, capacity_fte=capacity_fte,
        version=await next_version(org_id), created_at=now, updated_at=now,
    ))
    if manager_id is not None:
        await ManagerLink.insert(ManagerLink(
            id=new_id(), org_id=org_id, user_id=user_id, manager_id=manager_id, valid_from=now,
        ))
    return user_id


async def get_user(org_id: uuid.UUID, user_id: uuid.UUID) -> dict:
    row = await User.select().where(
        (User.id == user_id) & (User.org_id == org_id) & User.deleted_at.is_null()
    ).first()
    if row is None:
        raise NotFound("user not found")
    return row
