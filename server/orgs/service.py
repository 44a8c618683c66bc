"""Organisations: creation and settings."""

from __future__ import annotations

import re
import uuid
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.common.errors import Conflict, Invalid
from server.db.ids import new_id
from server.orgs.tables import Organisation, OrgClock

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,78}[a-z0-9]$")


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:80] or "org"


def check_timezone(tz: str, field: str = "timezone") -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown time zone {tz!r}", field=field) from None
    return tz


async def create_org(
    name: str,
    *,
    slug: str | None = None,
    timezone: str = "UTC",
    base_currency: str = "USD",
    org_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Create an organisation and its version clock. Call inside a unit of work."""
    name = name.strip()
    if not name:
        raise Invalid("organisation name is required", field="name")
    slug = slug or slugify(name)
    if not SLUG_RE.match(slug):
        raise Invalid(f"bad slug {slug!r}: lower-case letters, digits and dashes", field="slug")
    if not re.fullmatch(r"[A-Z]{3}", base_currency):
        raise Invalid("base_currency must be an ISO 4217 code such as USD", field="base_currency")
    check_timezone(timezone)
    if await Organisation.exists().where(Organisation.slug == slug):
        raise Conflict(f"an organisation with slug {slug!r} exists", code="org_exists")
    org_id = org_id or new_id()
    await Organisation.insert(
        Organisation(id=org_id, name=name, slug=slug, timezone=timezone, base_currency=base_currency)
    )
    await OrgClock.insert(OrgClock(id=org_id, version=0))
    return org_id


async def find_org(slug_or_id: str) -> tuple[uuid.UUID, str] | None:
    """(id, slug) of the organisation named by its slug or its id, as a command line gives it."""
    cond = Organisation.slug == slug_or_id
    try:
        cond = cond | (Organisation.id == uuid.UUID(slug_or_id))
    except ValueError:
        pass
    row = await Organisation.select(Organisation.id, Organisation.slug).where(cond).first()
    return (row["id"], row["slug"]) if row else None
