"""Tasks and appointments: what reps did and what is on their calendars."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from server.demo.ids import DeterministicIds
from server.demo.records import Rows
from server.demo.territories import Territory
from server.demo.timeline import Timeline
from server.demo.vocab import APPOINTMENT_TITLES, TASK_TITLES

TASK_STATUSES = (("done", 0.55), ("open", 0.38), ("cancelled", 0.07))
APPOINTMENT_AHEAD_DAYS = 14


def make_tasks(rng: random.Random, ids: DeterministicIds, org_id: uuid.UUID,
               territories: list[Territory], tl: Timeline) -> Rows:
    rows = Rows("tasks", (
        "id", "org_id", "created_at", "updated_at", "assignee_id", "created_by_id", "account_id",
        "contact_id", "opportunity_id", "title", "notes", "due_at", "status", "completed_at",
    ))
    statuses, weights = zip(*TASK_STATUSES)
    lookback = min(tl.days, 60)
    for t in territories:
        if not t.sites:
            continue
        rep, tz = t.rep, t.rep.timezone
        for _ in range(rng.randint(6, 14)):
            site = rng.choice(t.sites)
            contact = rng.choice(site.contacts) if site.contacts else None
            status = rng.choices(statuses, weights=weights, k=1)[0]
            creator = rep.manager_id if rng.random() < 0.3 else rep.id
            completed = None
            if status == "open":
                due = tl.work_moment(rng, tl.today + timedelta(days=rng.randint(-4, 14)), tz)
                created = tl.as_of - timedelta(seconds=rng.randint(3600, 20 * 86400))
            else:
                due = tl.work_moment(rng, tl.today - timedelta(days=rng.randint(1, lookback)), tz)
                created = due - timedelta(seconds=rng.randint(3600, 10 * 86400))
                if status == "done":
                    late = timedelta(seconds=rng.randint(-2 * 86400, 86400))
                    completed = tl.clamp_past(due + late)
                    completed = max(completed, created + timedelta(minutes=5))
            opportunity = site.deals[0][0] if site.deals and rng.random() < 0.4 else None
            title = rng.choice(TASK_TITLES).format(account=site.name,
                                                   first=contact.first if contact else "the owner")
            rows.rows.append((
                ids.uuid7(created), org_id, created, completed or created, rep.id, creator, site.id,
                contact.id if contact else None, opportunity, title, None, due, status, completed,
            ))
    return rows


def make_appointments(rng: random.Random, ids: DeterministicIds, org_id: uuid.UUID,
                      territories: list[Territory], tl: Timeline) -> Rows:
    rows = Rows("appointments", (
        "id", "org_id", "created_at", "updated_at", "assignee_id", "created_by_id", "account_id",
        "contact_id", "opportunity_id", "title", "starts_at", "ends_at", "location", "lat", "lng",
        "status",
    ))
    lookback = min(tl.days, 28)
    for t in territories:
        if not t.sites:
            continue
        rep, tz = t.rep, t.rep.timezone
        past = [-rng.randint(1, lookback) for _ in range(rng.randint(3, 8))]
        ahead = [rng.randint(0, APPOINTMENT_AHEAD_DAYS - 1) for _ in range(rng.randint(3, 7))]
        for offset_days in past + ahead:
            day = tl.today + timedelta(days=offset_days)
            if day.weekday() >= 5:  # nobody books Saturday visits: move to the nearest weekday
                shift = 7 - day.weekday() if offset_days >= 0 else 4 - day.weekday()
                day += timedelta(days=shift)
            site = rng.choice(t.sites)
            contact = rng.choice(site.contacts) if site.contacts else None
            starts = tl.work_moment(rng, day, tz).replace(second=0)
            starts -= timedelta(minutes=starts.minute % 15)
            ends = starts + timedelta(minutes=site.visit_minutes)
            created = min(starts - timedelta(seconds=rng.randint(3600, 10 * 86400)),
                          tl.as_of - timedelta(seconds=rng.randint(60, 86400)))
            if starts < tl.as_of:
                r = rng.random()
                status = "done" if r < 0.8 else "no_show" if r < 0.9 else "cancelled"
                updated = tl.clamp_past(ends + timedelta(minutes=rng.randint(5, 240)))
            else:
                status = "scheduled" if rng.random() < 0.95 else "cancelled"
                updated = created
            opportunity = site.deals[-1][0] if site.deals and rng.random() < 0.3 else None
            title = rng.choice(APPOINTMENT_TITLES).format(
                account=site.name, first=contact.first if contact else "the owner")
            location = f"{site.address}, {site.place.name}, {site.place.state} {site.postal_code}"
            rows.rows.append((
                ids.uuid7(created), org_id, created, updated, rep.id, rep.id, site.id,
                contact.id if contact else None, opportunity, title, starts, ends, location,
                site.lat, site.lng, status,
            ))
    return rows
