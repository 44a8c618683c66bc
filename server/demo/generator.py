"""Pure demo-data generation: settings and a seed in, table rows out. No database.

Each step draws from its own RNG derived from the seed (``derived_rng``), and
every id is a UUIDv7 built from the row's creation time plus seeded bits
(``DeterministicIds``), so the same seed and ``today`` give identical rows.
"""

from __future__ import annotations

from datetime import timedelta

from server.demo.accounts import (
    account_rows,
    contact_rows,
    make_accounts,
    make_contacts,
)
from server.demo.activities import make_activities
from server.demo.geography import PostalCodes, pick_metros
from server.demo.ids import DeterministicIds, derived_rng
from server.demo.people import make_staff, metro_count, staff_rows
from server.demo.phonebook import PhoneBook
from server.demo.pipeline import make_pipeline
from server.demo.records import DemoConfig, DemoData, Rows
from server.demo.territories import assign_territories, territory_rows
from server.demo.timeline import Timeline
from server.demo.work import make_appointments, make_tasks


def generate(config: DemoConfig) -> DemoData:
    seed = config.seed

    def step(name: str):
        return derived_rng(seed, name), DeterministicIds(derived_rng(seed, name, "ids"))

    tl = Timeline(config.today, config.days, config.timezone)
    phones = PhoneBook(derived_rng(seed, "phones"))
    zips = PostalCodes(derived_rng(seed, "zips"))
    _, org_ids = step("org")
    org_id = org_ids.uuid7(tl.start - timedelta(days=800))

    metros = pick_metros(derived_rng(seed, "metros"), min(config.reps, metro_count(config.reps)))
    rng, ids = step("people")
    staff = make_staff(rng, ids, config, metros, tl, phones)

    rng, ids = step("accounts")
    sites = make_accounts(rng, ids, config, metros, staff.reps, tl, phones, zips)
    rng, ids = step("territories")
    territories = assign_territories(rng, ids, metros, staff, sites, tl)
    rng, ids = step("contacts")
    make_contacts(rng, ids, sites, tl, phones)

    rng, ids = step("pipeline")
    funnel = make_pipeline(rng, ids, config, org_id, territories, tl, phones, zips)
    rng, ids = step("activities")
    activities = make_activities(rng, ids, config, org_id, territories, funnel.touches, tl)
    rng, ids = step("work")
    tasks = make_tasks(rng, ids, org_id, territories, tl)
    appointments = make_appointments(rng, ids, org_id, territories, tl)

    rng, ids = step("rows")
    people = staff_rows(rng, ids, config, org_id, staff, metros, tl)
    territory_table, owners, territory_accounts = territory_rows(ids, org_id, territories, tl)
    # Foreign-key order: every row's parents are inserted before it.
    ordered: list[Rows] = [
        *people,
        territory_table,
        owners,
        account_rows(rng, org_id, sites, tl),
        territory_accounts,
        contact_rows(org_id, sites),
        funnel.opportunities,  # leads point at opportunities and territories
        funnel.leads,
        funnel.stage_changes,
        activities,
        tasks,
        appointments,
    ]
    logins = [(p.email, p.role, config.password)
              for p in (staff.admin, *staff.managers, *staff.reps)]
    return DemoData(config, org_id, logins, {r.table: r for r in ordered})
