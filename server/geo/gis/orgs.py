"""Which organisations a GIS command acts on, and the admin it acts as."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from server.access.principal import Principal
from server.access.scope import Scope
from server.db.ids import new_id
from server.geo.gis.connection import GisError
from server.orgs.service import find_org as find_org_row
from server.orgs.tables import Organisation
from server.users.tables import User


@dataclass(frozen=True)
class Org:
    id: uuid.UUID
    slug: str


async def find_org(slug_or_id: str) -> Org:
    found = await find_org_row(slug_or_id)
    if found is None:
        raise GisError(f"no organisation {slug_or_id!r}")
    return Org(*found)


async def all_orgs() -> list[Org]:
    rows = await Organisation.select(Organisation.id, Organisation.slug).order_by(Organisation.slug)
    return [Org(r["id"], r["slug"]) for r in rows]


async def admin_scope(org: Org) -> Scope:
    """The org's first active admin as a Scope: the CLI acts as that admin.

    The principal carries a fresh session id: no login session backs a CLI run.
    """
    admin = await User.select(User.id).where(
        (User.org_id == org.id) & (User.role == "admin") & User.deleted_at.is_null()
        & (User.active == True)
    ).order_by(User.created_at, User.id).first()
    if admin is None:
        raise GisError(f"organisation {org.slug!r} has no active admin to act as: "
                       "create one with `fieldsales create-user --role admin`")
    return await Scope.build(Principal(user_id=admin["id"], org_id=org.id, role="admin",
                                       session_id=new_id()))
