"""Demo data: a realistic field-sales organisation in a fresh database.

``load_demo`` is what ``fieldsales demo-data`` runs: it generates every row in
memory from a seed (``server.demo.generator``, pure and deterministic) and
writes them in chunked units of work (``server.demo.loader``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

import msgspec

from server.auth.passwords import MIN_PASSWORD_LENGTH, hash_password
from server.common.errors import Conflict, Invalid
from server.demo.contests import add_demo_contest
from server.demo.generator import generate
from server.demo.loader import write_demo
from server.demo.records import DemoConfig, DemoData
from server.orgs.service import SLUG_RE, slugify
from server.orgs.tables import Organisation

DEMO_TIMEZONE = "America/Chicago"
DEMO_CURRENCY = "USD"
#: Each rep needs a few accounts for territories to be split sensibly.
MIN_ACCOUNTS_PER_REP = 10
DEFAULT_PASSWORD = "demo-password"

__all__ = ["DemoConfig", "DemoData", "DemoSummary", "generate", "load_demo"]


class DemoSummary(msgspec.Struct, frozen=True):
    org_id: uuid.UUID
    slug: str
    #: (email, role, password) for every demo user, admin first.
    logins: list[tuple[str, str, str]]
    #: Rows written per table.
    counts: dict[str, int]


def demo_config(*, reps: int, accounts: int, seed: int, days: int, org_name: str, password: str,
                today: date | None) -> DemoConfig:
    """Validate the options and fill in the derived settings."""
    if reps < 1:
        raise Invalid("at least one rep is needed", field="reps")
    if accounts < reps * MIN_ACCOUNTS_PER_REP:
        raise Invalid(f"need at least {MIN_ACCOUNTS_PER_REP} accounts per rep", field="accounts")
    if not 7 <= days <= 730:
        raise Invalid("days must be between 7 and 730", field="days")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"password must have at least {MIN_PASSWORD_LENGTH} characters",
                      field="password")
    slug = slugify(org_name)
    if not SLUG_RE.match(slug):
        raise Invalid(f"cannot make a slug from {org_name!r}", field="org_name")
    today = today or datetime.now(ZoneInfo(DEMO_TIMEZONE)).date()
    return DemoConfig(reps=reps, accounts=accounts, seed=seed, days=days, today=today,
                      org_name=org_name.strip(), slug=slug, timezone=DEMO_TIMEZONE,
                      currency=DEMO_CURRENCY, password=password)


async def load_demo(
    *,
    reps: int = 20,
    accounts: int = 5000,
    seed: int = 42,
    days: int = 180,
    org_name: str = "Demo Field Sales",
    password: str = DEFAULT_PASSWORD,
    progress: Callable[[str, int, int], None] | None = None,
    today: date | None = None,
) -> DemoSummary:
    """Create a demo organisation with people, territories, pipeline and activity history.

    Refuses (``Conflict``, code ``demo_exists``) if the organisation's slug is taken.
    ``progress(step, done, total)`` is called as the generation and each chunk finish.
    """
    config = demo_config(reps=reps, accounts=accounts, seed=seed, days=days, org_name=org_name,
                         password=password, today=today)
    if await Organisation.exists().where(Organisation.slug == config.slug):
        raise Conflict(f"a demo organisation {config.slug!r} already exists", code="demo_exists")
    if progress:
        progress("generate", 0, 1)
    # CPU-bound work off the event loop; one hash serves every demo user.
    password_hash = await asyncio.to_thread(hash_password, password)
    config = replace(config, password_hash=password_hash)
    data: DemoData = await asyncio.to_thread(generate, config)
    if progress:
        progress("generate", 1, 1)
    try:
        counts = await write_demo(data, progress)
    except Conflict as exc:  # lost a race with another loader
        if exc.code == "org_exists":
            raise Conflict(f"a demo organisation {config.slug!r} already exists",
                           code="demo_exists") from exc
        raise
    if progress:
        progress("contest", 0, 1)
    await add_demo_contest(data.org_id, config.today)
    if progress:
        progress("contest", 1, 1)
    return DemoSummary(org_id=data.org_id, slug=config.slug, logins=data.logins, counts=counts)

ROLE_ORDER = {"admin": 0, "manager": 1, "rep": 2}


async def existing_logins(org_name: str = "Demo Field Sales", reps_shown: int = 3) -> list[tuple[str, str, str]]:
    """Logins of an already loaded demo org (admin, managers, a few reps), for the start banner."""
    from server.users.tables import User

    org = await Organisation.select(Organisation.id).where(
        Organisation.slug == slugify(org_name)).first()
    if org is None:
        return []
    users = await User.select(User.email, User.role).where(
        (User.org_id == org["id"]) & User.deleted_at.is_null()).order_by(User.email)
    users.sort(key=lambda u: ROLE_ORDER.get(u["role"], 3))
    shown = [u for u in users if u["role"] != "rep"] + [u for u in users if u["role"] == "rep"][:reps_shown]
    return [(u["email"], u["role"], DEFAULT_PASSWORD) for u in shown]
