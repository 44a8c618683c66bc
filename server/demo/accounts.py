"""Accounts (businesses clustered around real towns) and their contacts."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from decimal import Decimal

from server.demo.geography import (
    Metro,
    PostalCodes,
    place_weights,
    scatter,
    street_address,
)
from server.demo.ids import DeterministicIds
from server.demo.phonebook import Mailboxes, PhoneBook, domain_for
from server.demo.records import ContactCard, DemoConfig, Person, Rows, Site
from server.demo.timeline import Timeline
from server.demo.vocab import (
    ADJECTIVES,
    CONTACT_TITLES,
    FIRST_NAMES,
    INDUSTRIES,
    LAST_NAMES,
    NOUNS,
    STREETS,
)
from server.geo.cells import POINT_RESOLUTION, latlng_to_cell

STATUSES = (("customer", 0.45), ("prospect", 0.45), ("inactive", 0.10))
#: Visit targets in days, by account status: customers are seen most often.
VISIT_EVERY = {
    "customer": ((7, 14, 30, 60), (0.2, 0.35, 0.35, 0.1)),
    "prospect": ((14, 30, 60, 90), (0.1, 0.35, 0.3, 0.25)),
    "inactive": ((90,), (1.0,)),
}
VISIT_MINUTES = ((15, 20, 30, 45, 60), (0.1, 0.2, 0.4, 0.2, 0.1))
CONTACTS_PER_ACCOUNT = ((1, 2, 3, 4), (0.3, 0.45, 0.2, 0.05))  # mean 2.0
#: Median yearly revenue potential and its spread (lognormal).
POTENTIAL_MEDIAN = {"customer": 32_000.0, "prospect": 24_000.0, "inactive": 9_000.0}
POTENTIAL_SIGMA = 0.9


def split_by_capacity(total: int, capacities: list[float]) -> list[int]:
    """``total`` split in proportion to ``capacities`` (largest remainders)."""
    shares = [total * c / sum(capacities) for c in capacities]
    counts = [int(s) for s in shares]
    order = sorted(range(len(shares)), key=lambda i: (-(shares[i] % 1), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def business_name(rng: random.Random, industry: str, town: str) -> str:
    pattern = rng.choice(INDUSTRIES[industry][1])
    return pattern.format(
        last=rng.choice(LAST_NAMES), last2=rng.choice(LAST_NAMES), place=town,
        street=rng.choice(STREETS), adj=rng.choice(ADJECTIVES), noun=rng.choice(NOUNS),
        noun2=rng.choice(NOUNS),
    )


def make_accounts(rng: random.Random, ids: DeterministicIds, config: DemoConfig,
                  metros: list[Metro], reps: list[Person], tl: Timeline, phones: PhoneBook,
                  zips: PostalCodes) -> list[Site]:
    capacity = [sum(r.capacity for r in reps if r.metro == m) for m in range(len(metros))]
    industries = list(INDUSTRIES)
    industry_weights = [INDUSTRIES[i][0] for i in industries]
    statuses = [s for s, _ in STATUSES]
    status_weights = [w for _, w in STATUSES]
    sites: list[Site] = []
    for m, (metro, count) in enumerate(zip(metros, split_by_capacity(config.accounts, capacity))):
        places = rng.choices(metro.places, weights=place_weights(metro), k=count)
        for place in places:
            lat, lng = scatter(rng, place)
            industry = rng.choices(industries, weights=industry_weights, k=1)[0]
            status = rng.choices(statuses, weights=status_weights, k=1)[0]
            name = business_name(rng, industry, place.name)
            every, weights = VISIT_EVERY[status]
            created = tl.before_history(rng, 900).replace(microsecond=0)
            sites.append(Site(
                id=ids.uuid7(created), name=name, industry=industry, status=status, place=place,
                address=street_address(rng), postal_code=zips.for_place(place), lat=lat, lng=lng,
                cell=latlng_to_cell(lat, lng, POINT_RESOLUTION), metro=m, created_at=created,
                domain=domain_for(name), phone=phones.number(place.state),
                visit_every_days=rng.choices(every, weights=weights, k=1)[0],
                visit_minutes=rng.choices(*VISIT_MINUTES, k=1)[0],
            ))
    return sites


def make_contacts(rng: random.Random, ids: DeterministicIds, sites: list[Site], tl: Timeline,
                  phones: PhoneBook) -> None:
    mail = Mailboxes()
    latest = tl.start - timedelta(minutes=1)
    for site in sites:
        for n in range(rng.choices(*CONTACTS_PER_ACCOUNT, k=1)[0]):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            created = min(site.created_at + timedelta(seconds=rng.randint(0, 60 * 86400)), latest)
            # The first contact is the one who decides.
            title = rng.choice(("Owner", "General Manager") if n == 0 else CONTACT_TITLES)
            site.contacts.append(ContactCard(
                id=ids.uuid7(created), first=first, last=last, title=title,
                email=mail.address(first, last, site.domain),
                phone=phones.number(site.place.state) if rng.random() < 0.5 else None,
                mobile=phones.number(site.place.state) if rng.random() < 0.85 else None,
                created_at=created,
            ))


def account_rows(rng: random.Random, org_id: uuid.UUID, sites: list[Site], tl: Timeline) -> Rows:
    rows = Rows("accounts", (
        "id", "org_id", "created_at", "updated_at", "name", "owner_id", "status", "industry",
        "phone_e164", "email", "website", "address_line", "city", "state", "postal_code", "country",
        "lat", "lng", "h3_cell", "potential", "visit_every_days", "visit_minutes",
    ))
    for s in sites:
        potential = rng.lognormvariate(0.0, POTENTIAL_SIGMA) * POTENTIAL_MEDIAN[s.status]
        touched = tl.start + timedelta(seconds=rng.randint(0, tl.days * 86400 - 1))
        updated = max(s.created_at, touched)
        rows.rows.append((
            s.id, org_id, s.created_at, tl.clamp_past(updated), s.name, s.owner.id, s.status,
            s.industry, s.phone, f"info@{s.domain}", f"https://www.{s.domain}", s.address,
            s.place.name, s.place.state, s.postal_code, "US", s.lat, s.lng, s.cell,
            Decimal(f"{round(potential, -2):.2f}"), s.visit_every_days, s.visit_minutes,
        ))
    return rows


def contact_rows(org_id: uuid.UUID, sites: list[Site]) -> Rows:
    rows = Rows("contacts", (
        "id", "org_id", "created_at", "updated_at", "account_id", "owner_id", "first_name",
        "last_name", "title", "email", "phone_e164", "mobile_e164",
    ))
    for s in sites:
        for c in s.contacts:
            rows.rows.append((c.id, org_id, c.created_at, c.created_at, s.id, s.owner.id, c.first,
                              c.last, c.title, c.email, c.phone, c.mobile))
    return rows
