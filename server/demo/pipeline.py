"""Leads, opportunities and their stage history: a funnel of about 6 wins per 15 leads.

Counts are fixed fractions of the number of leads (not independent draws), so
small demos hit the shape as well as big ones: 55% of leads convert into a
deal, and existing customers add upsell deals, together winning 40% of the
number of leads.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from server.demo.accounts import business_name, split_by_capacity
from server.demo.geography import PostalCodes, offset, street_address
from server.demo.ids import DeterministicIds
from server.demo.phonebook import Mailboxes, PhoneBook, domain_for
from server.demo.records import DemoConfig, Person, Rows, Site
from server.demo.territories import TERRITORY_RESOLUTION, Territory
from server.demo.timeline import Timeline
from server.demo.vocab import (
    CONTACT_TITLES,
    DISQUALIFY_REASONS,
    FIRST_NAMES,
    INDUSTRIES,
    LAST_NAMES,
    LOSS_REASONS,
    PRODUCTS,
    WIN_REASONS,
)
from server.geo.cells import POINT_RESOLUTION, cell_to_parent, latlng_to_cell
from server.pipeline.tables import OPEN_STAGES, STAGE_PROBABILITY

LEADS_PER_ACCOUNT = 0.15
WIN_RATE = 6 / 15  # closed_won deals per lead
#: Share of leads ending in each state; converted leads split by their deal's fate.
LEAD_OUTCOMES = (
    ("converted:closed_won", 0.32), ("converted:closed_lost", 0.12), ("converted:open", 0.11),
    ("disqualified", 0.18), ("qualified", 0.09), ("contacted", 0.10),
)  # the rest stay "new"
UPSELL_PER_LEAD = 0.15
UPSELL_LOST = 0.04
LEAD_SOURCES = (("door_knock", 0.22), ("referral", 0.2), ("web", 0.18), ("event", 0.1),
                ("cold_call", 0.18), ("partner", 0.08), ("other", 0.04))
OPEN_STAGE_WEIGHTS = (0.3, 0.3, 0.25, 0.15)
LOST_AT_WEIGHTS = (0.25, 0.3, 0.3, 0.15)
AMOUNT_MEDIAN = 12_000.0


@dataclass(eq=False, slots=True)
class LeadTouch:
    """A lead that reps worked: activities refer to it between ``start`` and ``end``."""

    lead_id: uuid.UUID
    rep: Person
    start: datetime
    end: datetime
    first: str
    phone: str
    email: str
    lat: float
    lng: float


@dataclass
class Funnel:
    leads: Rows
    opportunities: Rows
    stage_changes: Rows
    touches: list[LeadTouch]


def outcome_counts(n_leads: int) -> tuple[list[str], int, int]:
    """Lead outcomes (exact counts) and the upsell deals won and lost that top wins up to 40%."""
    outcomes: list[str] = []
    for outcome, share in LEAD_OUTCOMES:
        outcomes += [outcome] * round(n_leads * share)
    outcomes = outcomes[:n_leads] + ["new"] * max(0, n_leads - len(outcomes))
    upsell_won = max(0, round(n_leads * WIN_RATE) - outcomes.count("converted:closed_won"))
    return outcomes, upsell_won, round(n_leads * UPSELL_LOST)


class _Builder:
    def __init__(self, rng: random.Random, ids: DeterministicIds, config: DemoConfig,
                 org_id: uuid.UUID, tl: Timeline, phones: PhoneBook, zips: PostalCodes) -> None:
        self.rng, self.ids, self.config, self.org_id, self.tl = rng, ids, config, org_id, tl
        self.phones, self.zips, self.mail = phones, zips, Mailboxes()
        self.funnel = Funnel(
            Rows("leads", (
                "id", "org_id", "created_at", "updated_at", "owner_id", "status", "source",
                "first_name", "last_name", "company", "title", "email", "phone_e164",
                "address_line", "city", "state", "postal_code", "lat", "lng", "h3_cell",
                "territory_id", "account_id", "contact_id", "opportunity_id", "converted_at",
                "disqualified_reason",
            )),
            Rows("opportunities", (
                "id", "org_id", "created_at", "updated_at", "account_id", "owner_id", "lead_id",
                "name", "stage", "amount", "currency", "probability", "expected_close_date",
                "closed_at", "close_reason",
            )),
            Rows("opportunity_stage_changes", (
                "id", "org_id", "opportunity_id", "from_stage", "to_stage", "amount",
                "changed_by_id", "changed_at",
            )),
            [],
        )

    # -- time ----------------------------------------------------------------
    def day(self, days_ago: int) -> date:
        return self.tl.today - timedelta(days=days_ago)

    def at(self, rep: Person, days_ago: int) -> datetime:
        return self.tl.work_moment(self.rng, self.day(days_ago), rep.timezone)

    # -- deals ---------------------------------------------------------------
    def deal(self, rep: Person, site: Site, fate: str, created_ago: int, cycle: int,
             lead_id: uuid.UUID | None = None) -> tuple[uuid.UUID, datetime]:
        """An opportunity with its stage history; returns (id, created_at)."""
        rng, tl = self.rng, self.tl
        created = self.at(rep, created_ago)
        amount = Decimal(f"{max(500.0, round(rng.lognormvariate(0, 0.8) * AMOUNT_MEDIAN, -1)):.2f}")
        if fate == "open":
            stage = rng.choices(OPEN_STAGES, weights=OPEN_STAGE_WEIGHTS, k=1)[0]
            path = list(OPEN_STAGES[: OPEN_STAGES.index(stage) + 1])
            end = tl.as_of - timedelta(hours=1)
            closed_at, reason = None, None
            overdue = rng.random() < 0.12
            ahead = -rng.randint(1, 10) if overdue else rng.randint(5, 75)
            close_date = self.tl.today + timedelta(days=ahead)
        else:
            if fate == "closed_won":
                path = [s for s in OPEN_STAGES if s != "qualification" or rng.random() < 0.8]
                reason = rng.choice(WIN_REASONS)
            else:
                lost_at = rng.choices(OPEN_STAGES, weights=LOST_AT_WEIGHTS, k=1)[0]
                path = list(OPEN_STAGES[: OPEN_STAGES.index(lost_at) + 1])
                reason = rng.choice(LOSS_REASONS)
            path.append(fate)
            closed_at = self.at(rep, created_ago - cycle)
            end = closed_at
            close_date = self.day(created_ago - cycle)
        opp_id = self.ids.uuid7(created)
        span = (end - created).total_seconds()
        moments = [created] + sorted(
            created + timedelta(seconds=int(span * rng.uniform(0.05, 0.95))) for _ in path[1:-1]
        ) + ([end] if closed_at else [])
        if not closed_at and len(path) > 1:
            moments.append(created + timedelta(seconds=int(span * rng.uniform(0.6, 0.98))))
            moments = moments[:1] + sorted(moments[1:])
        previous = None
        for stage, moment in zip(path, moments):
            self.funnel.stage_changes.rows.append((
                self.ids.uuid7(moment), self.org_id, opp_id, previous, stage, amount, rep.id,
                moment,
            ))
            previous = stage
        stage = path[-1]
        self.funnel.opportunities.rows.append((
            opp_id, self.org_id, created, moments[-1], site.id, rep.id, lead_id,
            f"{site.name} - {rng.choice(PRODUCTS)}", stage, amount, self.config.currency,
            STAGE_PROBABILITY[stage], close_date, closed_at, reason,
        ))
        site.deals.append((opp_id, created, end))
        return opp_id, created

    # -- leads ---------------------------------------------------------------
    def lead(self, rep: Person, territory: Territory, outcome: str, pick_site) -> None:
        rng, days = self.rng, self.tl.days
        source = rng.choices(*zip(*LEAD_SOURCES), k=1)[0]
        converted_at = opp_id = site = contact = None
        reason = None
        if outcome.startswith("converted:"):
            fate = outcome.split(":")[1]
            site = pick_site(fate == "closed_won")
            contact = site.contacts[0]
            delay = min(40, max(1, round(rng.lognormvariate(0, 0.7) * 8)))
            cycle = 0 if fate == "open" else \
                min(120, max(3, round(rng.lognormvariate(0, 0.6) * 28)))
            if delay + cycle > days - 2:  # short demos: squeeze the cycle into the window
                scale = (days - 2) / (delay + cycle)
                delay, cycle = max(1, int(delay * scale)), max(1, int(cycle * scale))
            latest = days if fate != "open" else min(days, delay + 90)
            created_ago = rng.randint(min(delay + cycle + 1, latest), latest)
            created = self.at(rep, created_ago)
            opp_at = created_ago - delay
            lead_id = self.ids.uuid7(created)
            opp_id, converted_at = self.deal(rep, site, fate, opp_at, cycle, lead_id=lead_id)
            first, last, title = contact.first, contact.last, contact.title
            email, phone = contact.email, contact.mobile or contact.phone or site.phone
            company, lat, lng, cell = site.name, site.lat, site.lng, site.cell
            address, place, postal = site.address, site.place, site.postal_code
            status, updated, touch_end = "converted", converted_at, converted_at
        else:
            status = outcome
            ago = {"new": (1, 14), "contacted": (2, 45), "qualified": (5, days),
                   "disqualified": (3, days)}[status]
            created_ago = rng.randint(min(ago[0], days), min(ago[1], days))
            created = self.at(rep, created_ago)
            lead_id = self.ids.uuid7(created)
            near = rng.choice(territory.sites)
            lat, lng = offset(near.lat, near.lng, rng.gauss(0, 0.3), rng.gauss(0, 0.3))
            lat, lng = round(lat, 6), round(lng, 6)
            cell = latlng_to_cell(lat, lng, POINT_RESOLUTION)
            if cell_to_parent(cell, TERRITORY_RESOLUTION) not in territory.cells:
                lat, lng, cell = near.lat, near.lng, near.cell  # keep leads inside the territory
            place = near.place
            company = business_name(rng, rng.choice(list(INDUSTRIES)), place.name)
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            title = rng.choice(CONTACT_TITLES)
            email = self.mail.address(first, last, domain_for(company))
            phone = self.phones.number(place.state)
            address, postal = street_address(rng), self.zips.for_place(place)
            updated = created
            if status != "new" and created_ago > 1:  # last worked on a later day
                updated = self.at(rep, rng.randint(1, created_ago - 1))
            touch_end = updated
            if status == "disqualified":
                reason = rng.choice(DISQUALIFY_REASONS)
        self.funnel.leads.rows.append((
            lead_id, self.org_id, created, updated, rep.id, status, source, first, last, company,
            title, email, phone, address, place.name, place.state, postal, lat, lng, cell,
            territory.id, site.id if site else None, contact.id if contact else None, opp_id,
            converted_at, reason,
        ))
        if status != "new":
            self.funnel.touches.append(LeadTouch(lead_id, rep, created, touch_end, first, phone,
                                                 email, lat, lng))


def make_pipeline(rng: random.Random, ids: DeterministicIds, config: DemoConfig, org_id: uuid.UUID,
                  territories: list[Territory], tl: Timeline, phones: PhoneBook,
                  zips: PostalCodes) -> Funnel:
    b = _Builder(rng, ids, config, org_id, tl, phones, zips)
    worked = [t for t in territories if t.sites]
    n_leads = max(len(worked), round(config.accounts * LEADS_PER_ACCOUNT))
    outcomes, upsell_won, upsell_lost = outcome_counts(n_leads)
    rng.shuffle(outcomes)
    per_rep = split_by_capacity(n_leads, [len(t.sites) for t in worked])
    position = 0
    for t, count in zip(worked, per_rep):
        pools = {True: [s for s in t.sites if s.status == "customer"],
                 False: [s for s in t.sites if s.status == "prospect"]}
        for pool in pools.values():
            rng.shuffle(pool)

        def pick_site(won: bool, t=t, pools=pools) -> Site:
            pool = pools[won] or pools[not won]
            return pool.pop() if pool else rng.choice(t.sites)

        for outcome in outcomes[position:position + count]:
            b.lead(t.rep, t, outcome, pick_site)
        position += count

    # Upsell deals on existing customers, no lead behind them.
    fates = ["closed_won"] * upsell_won + ["closed_lost"] * upsell_lost
    fates += ["open"] * max(0, round(n_leads * UPSELL_PER_LEAD) - len(fates))
    customers = [(t, s) for t in worked for s in t.sites if s.status == "customer"] or \
        [(t, s) for t in worked for s in t.sites]
    for fate in fates:
        t, site = rng.choice(customers)
        cycle = 0 if fate == "open" else \
            min(tl.days - 2, max(1, round(rng.lognormvariate(0, 0.6) * 21)))
        created_ago = rng.randint(min(cycle + 1, tl.days), tl.days)
        b.deal(t.rep, site, fate, created_ago, cycle)
    return b.funnel
