"""The organisation chart: an admin, managers, reps, regions and teams."""

from __future__ import annotations

import math
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.demo.geography import Metro, scatter
from server.demo.ids import DeterministicIds
from server.demo.phonebook import Mailboxes, PhoneBook
from server.demo.records import DemoConfig, Person, Rows
from server.demo.timeline import Timeline
from server.demo.vocab import FIRST_NAMES, LAST_NAMES
from server.geo.cells import POINT_RESOLUTION, latlng_to_cell

REPS_PER_METRO = 4
REPS_PER_MANAGER = 7
#: Mostly full-time reps, a few on reduced hours.
CAPACITIES = ((1.0, 0.82), (0.8, 0.10), (0.5, 0.08))


@dataclass
class Staff:
    admin: Person
    managers: list[Person]
    reps: list[Person]
    #: (manager, reps) per team.
    teams: list[tuple[Person, list[Person]]]
    root_region_id: uuid.UUID
    #: Region id per metro index.
    region_ids: list[uuid.UUID]
    founded_at: datetime


def metro_count(reps: int) -> int:
    return max(1, math.ceil(reps / REPS_PER_METRO))


def reps_per_metro(metros: list[Metro], reps: int) -> list[int]:
    """At least one rep per metro; the rest by sqrt(population), largest remainders first."""
    counts = [1] * len(metros)
    extra = reps - len(metros)
    weights = [math.sqrt(m.centre.population) for m in metros]
    shares = [extra * w / sum(weights) for w in weights]
    for i, share in enumerate(shares):
        counts[i] += int(share)
    by_remainder = sorted(range(len(metros)), key=lambda i: (-(shares[i] % 1), i))
    for i in by_remainder[: reps - sum(counts)]:
        counts[i] += 1
    return counts


def make_staff(rng: random.Random, ids: DeterministicIds, config: DemoConfig, metros: list[Metro],
               tl: Timeline, phones: PhoneBook) -> Staff:
    mail = Mailboxes()
    domain = f"{config.slug}.example.com"
    founded = tl.start - timedelta(days=800)

    def person(role: str, metro: int, created_days: tuple[int, int],
               email: str | None = None) -> Person:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        created = founded + timedelta(days=rng.uniform(*created_days))
        created = created.replace(microsecond=0)
        centre = metros[metro].centre
        return Person(
            id=ids.uuid7(created), role=role, first=first, last=last,
            email=email or mail.address(first, last, domain), metro=metro,
            timezone=centre.timezone, created_at=created, phone=phones.number(centre.state),
        )

    hq = max(range(len(metros)), key=lambda i: metros[i].centre.population)
    admin = person("admin", hq, (0, 1), email=f"admin@{domain}")

    reps: list[Person] = []
    for metro, count in enumerate(reps_per_metro(metros, config.reps)):
        for _ in range(count):
            rep = person("rep", metro, (60, 790))
            r, acc = rng.random(), 0.0
            for capacity, share in CAPACITIES:
                acc += share
                if r < acc:
                    rep.capacity = capacity
                    break
            reps.append(rep)

    n_teams = max(1, round(config.reps / REPS_PER_MANAGER))
    teams: list[tuple[Person, list[Person]]] = []
    managers: list[Person] = []
    # Reps are grouped by metro already, so contiguous slices keep teams local.
    for t in range(n_teams):
        members = reps[t * len(reps) // n_teams:(t + 1) * len(reps) // n_teams]
        counts = Counter(r.metro for r in members)
        metro = min(counts, key=lambda m: (-counts[m], m))  # the team's main metro
        manager = person("manager", metro, (5, 60))
        manager.manager_id = admin.id
        for rep in members:
            rep.manager_id = manager.id
        managers.append(manager)
        teams.append((manager, members))

    for boss in (admin, *managers):
        boss.home = scatter(rng, metros[boss.metro].centre)
    root_region = ids.uuid7(founded)
    region_ids = [ids.uuid7(founded) for _ in metros]
    for p in (admin, *managers, *reps):
        p.region_id = region_ids[p.metro]
    return Staff(admin, managers, reps, teams, root_region, region_ids, founded)


def staff_rows(rng: random.Random, ids: DeterministicIds, config: DemoConfig, org_id: uuid.UUID,
               staff: Staff, metros: list[Metro], tl: Timeline) -> list[Rows]:
    """Users, regions, teams, memberships and manager links (after reps have homes)."""
    users = Rows("users", (
        "id", "org_id", "created_at", "updated_at", "email", "password_hash", "full_name", "role",
        "manager_id", "timezone", "phone_e164", "home_lat", "home_lng", "home_cell", "capacity_fte",
        "active", "last_login_at",
    ))
    for p in (staff.admin, *staff.managers, *staff.reps):  # managers before their reps (FK)
        lat, lng = p.home
        last_login = tl.clamp_past(tl.as_of - timedelta(seconds=rng.randint(3600, 5 * 86400)))
        users.rows.append((
            p.id, org_id, p.created_at, p.created_at, p.email, config.password_hash, p.full_name,
            p.role, p.manager_id, p.timezone, p.phone, lat, lng,
            latlng_to_cell(lat, lng, POINT_RESOLUTION), p.capacity, True, last_login,
        ))

    founded = staff.founded_at
    regions = Rows("regions", ("id", "org_id", "created_at", "updated_at", "name", "parent_id"))
    regions.rows.append((staff.root_region_id, org_id, founded, founded, "United States", None))
    for metro, region_id in zip(metros, staff.region_ids):
        regions.rows.append((region_id, org_id, founded, founded, f"{metro.name} Metro",
                             staff.root_region_id))

    teams = Rows("teams", ("id", "org_id", "created_at", "updated_at", "name", "manager_id",
                           "region_id"))
    memberships = Rows("team_memberships", ("id", "org_id", "team_id", "user_id", "valid_from"))
    links = Rows("manager_links", ("id", "org_id", "user_id", "manager_id", "valid_from"))
    names: dict[str, int] = {}
    for manager, members in staff.teams:
        base = f"{metros[manager.metro].name} Team"
        names[base] = names.get(base, 0) + 1
        name = base if names[base] == 1 else f"{base} {names[base]}"
        team_id = ids.uuid7(manager.created_at)
        teams.rows.append((team_id, org_id, manager.created_at, manager.created_at, name,
                           manager.id, manager.region_id))
        links.rows.append((ids.uuid7(manager.created_at), org_id, manager.id, staff.admin.id,
                           manager.created_at))
        for rep in members:
            since = max(rep.created_at, manager.created_at)
            memberships.rows.append((ids.uuid7(since), org_id, team_id, rep.id, since))
            links.rows.append((ids.uuid7(since), org_id, rep.id, manager.id, since))
    return [users, regions, teams, memberships, links]
