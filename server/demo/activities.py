"""Six months of activity shaped like a real team.

* Volume per rep follows a Lorenz curve with ``L(0.2) = 0.4``: the top fifth
  of reps log 40% of the activity, as in most sales teams.
* Days are weighted Monday-Friday with quiet weekends, and some reps take a
  week off; times fall in working hours in the rep's own zone.
* Check-ins are near the account, except a few percent that are out of the
  organisation's radius and a few with no usable fix.
* Phones sync late sometimes: ``received_at`` is usually seconds to minutes
  after ``occurred_at``, occasionally hours or days.
"""

from __future__ import annotations

import math
import random
import uuid
from datetime import datetime, timedelta
from itertools import accumulate

from server.demo import vocab
from server.demo.accounts import split_by_capacity
from server.demo.geography import distance_m, offset
from server.demo.ids import DeterministicIds
from server.demo.pipeline import LeadTouch
from server.demo.records import DemoConfig, Person, Rows, Site
from server.demo.territories import Territory
from server.demo.timeline import DAY_WEIGHTS, Timeline

ACTIVITIES_PER_ACCOUNT = 20  # per 180 days
TOP_FIFTH_SHARE = 0.40
TYPES = ("visit", "call", "text", "email", "meeting", "note")
TYPE_CUM = tuple(accumulate((0.36, 0.28, 0.12, 0.12, 0.04, 0.08)))
LEAD_TYPES = ("call", "visit", "email", "text")
LEAD_TYPE_CUM = tuple(accumulate((0.4, 0.3, 0.2, 0.1)))
#: Check-ins outside the radius, and without a usable location (mock or no fix).
OUT_OF_RANGE_SHARE = 0.045
UNVERIFIABLE_SHARE = 0.02
STATUS_WEIGHT = {"customer": 1.0, "prospect": 0.6, "inactive": 0.15}
COLUMNS = (
    "id", "org_id", "created_at", "updated_at", "rep_id", "type", "direction", "outcome",
    "occurred_at", "received_at", "ended_at", "duration_s", "lat", "lng", "accuracy_m",
    "mock_location", "account_id", "contact_id", "lead_id", "opportunity_id", "subject", "body",
    "counterpart", "status", "provider_ref", "verification", "distance_m",
)


def lorenz_weights(n: int, top_fifth_share: float = TOP_FIFTH_SHARE) -> list[float]:
    """Share of rank i (0 = busiest) under an exponentially falling activity density.

    The density ``exp(-k p)`` over the rep ranking ``p`` in [0, 1] has the
    Lorenz curve ``L(p) = (1 - exp(-k p)) / (1 - exp(-k))``; ``k`` is solved so
    that ``L(0.2) = top_fifth_share``. Unlike a power law it keeps the top rep
    near 2.5x the average and the quietest near a quarter of it.
    """
    def lorenz(p: float, k: float) -> float:
        return (1 - math.exp(-k * p)) / (1 - math.exp(-k))

    lo, hi = 1e-6, 50.0
    for _ in range(100):
        k = (lo + hi) / 2
        lo, hi = (k, hi) if lorenz(0.2, k) < top_fifth_share else (lo, k)
    return [lorenz((i + 1) / n, k) - lorenz(i / n, k) for i in range(n)]


def rep_quotas(rng: random.Random, reps: list[Person], total: int) -> dict[int, int]:
    """Activities per rep (by index); part-timers rank last."""
    order = list(range(len(reps)))
    rng.shuffle(order)
    order.sort(key=lambda i: -reps[i].capacity)
    counts = split_by_capacity(total, lorenz_weights(len(reps)))
    return {i: counts[rank] for rank, i in enumerate(order)}


class _Writer:
    def __init__(self, rng: random.Random, ids: DeterministicIds, config: DemoConfig,
                 org_id: uuid.UUID, tl: Timeline) -> None:
        self.rng, self.ids, self.org_id, self.tl = rng, ids, org_id, tl
        self.radius = config.checkin_radius_m
        self.rows: list[tuple] = []

    def received(self, occurred: datetime) -> datetime:
        r = self.rng.random()
        if r < 0.8:
            delay = self.rng.randint(5, 600)
        elif r < 0.95:
            delay = self.rng.randint(600, 6 * 3600)
        else:
            delay = self.rng.randint(6 * 3600, 3 * 86400)  # offline for a while
        return self.tl.clamp_past(occurred + timedelta(seconds=delay))

    def add(self, rep: Person, kind: str, occurred: datetime, *, direction="out", outcome=None,
            duration=None, lat=None, lng=None, accuracy=None, mock=False, account=None,
            contact=None, lead=None, opportunity=None, subject=None, body=None, counterpart=None,
            status=None, verification=None, distance=None) -> None:
        received = self.received(occurred)
        ended = occurred + timedelta(seconds=duration) if duration is not None else None
        updated = received if ended is None else max(received, self.tl.clamp_past(ended))
        act_id = self.ids.uuid7(occurred)
        provider = f"SM{act_id.hex}" if kind == "text" and direction == "out" else None
        self.rows.append((
            act_id, self.org_id, received, updated, rep.id, kind, direction, outcome, occurred,
            received, ended, duration, lat, lng, accuracy, mock, account, contact, lead,
            opportunity, subject, body, counterpart, status, provider, verification, distance,
        ))

    def visit(self, rep: Person, occurred: datetime, lat: float, lng: float, minutes: int,
              always_verified: bool = False, **refs) -> None:
        rng = self.rng
        u = 1.0 if always_verified else rng.random()
        mock, accuracy, verification, distance = False, None, "verified", None
        if u < OUT_OF_RANGE_SHARE:
            metres = min(5000.0, self.radius * 1.3 + rng.lognormvariate(0, 1) * 250)
        elif u < OUT_OF_RANGE_SHARE + UNVERIFIABLE_SHARE:
            metres, verification = None, "unverifiable"
            mock = rng.random() < 0.3  # the rest had no location fix at all
        else:
            metres = min(self.radius * 0.85, abs(rng.gauss(0, 25)))
        at_lat = at_lng = None
        if metres is not None or mock:
            bearing = rng.uniform(0, 2 * math.pi)
            metres_off = metres if metres is not None else rng.uniform(0, 20)
            at_lat, at_lng = offset(lat, lng, metres_off * math.cos(bearing) / 1000,
                                    metres_off * math.sin(bearing) / 1000)
            at_lat, at_lng = round(at_lat, 7), round(at_lng, 7)
            accuracy = round(min(60.0, rng.lognormvariate(0, 0.6) * 10), 1)
        if metres is not None:
            distance = round(distance_m(lat, lng, at_lat, at_lng), 1)
            verification = "out_of_range" if distance > self.radius else "verified"
        r = rng.random()
        if r < 0.65:
            outcome, seconds = "met", int(minutes * 60 * rng.lognormvariate(0, 0.35))
        elif r < 0.85:
            outcome, seconds = "not_available", rng.randint(120, 480)
        else:
            outcome, seconds = "left_material", rng.randint(180, 600)
        self.add(rep, "visit", occurred, outcome=outcome, duration=seconds, lat=at_lat, lng=at_lng,
                 accuracy=accuracy, mock=mock, verification=verification, distance=distance, **refs)

    def call(self, rep: Person, occurred: datetime, number: str, **refs) -> None:
        rng = self.rng
        direction = "in" if rng.random() < 0.15 else "out"
        r = rng.random()
        if direction == "in" or r < 0.5:
            outcome = "connected"
            seconds = min(3600, max(20, int(rng.lognormvariate(0, 0.8) * 180)))
        elif r < 0.8:
            outcome, seconds = "voicemail", rng.randint(15, 60)
        else:
            outcome, seconds = "no_answer", 0
        body = None
        if outcome == "connected" and rng.random() < 0.3:
            body = rng.choice(vocab.CALL_NOTES).format(product=rng.choice(vocab.PRODUCTS))
        self.add(rep, "call", occurred, direction=direction, outcome=outcome, duration=seconds,
                 counterpart=number, body=body, **refs)

    def text(self, rep: Person, occurred: datetime, number: str, first: str, **refs) -> None:
        rng = self.rng
        if rng.random() < 0.65:
            r = rng.random()
            status = "delivered" if r < 0.9 else "sent" if r < 0.98 else "failed"
            when = rng.choice(("tomorrow", "on Monday", "this afternoon"))
            body = rng.choice(vocab.TEXTS_OUT).format(first=first, when=when)
            self.add(rep, "text", occurred, body=body, counterpart=number, status=status, **refs)
        else:
            self.add(rep, "text", occurred, direction="in", body=rng.choice(vocab.TEXTS_IN),
                     counterpart=number, status="received", **refs)

    def email(self, rep: Person, occurred: datetime, address: str, first: str, company: str,
              **refs) -> None:
        rng = self.rng
        product = rng.choice(vocab.PRODUCTS)
        if rng.random() < 0.7:
            subject = rng.choice(vocab.EMAIL_SUBJECTS_OUT).format(account=company, product=product)
            status = "delivered" if rng.random() < 0.95 else "sent"
            self.add(rep, "email", occurred, subject=subject,
                     body=vocab.EMAIL_BODY.format(first=first, product=product),
                     counterpart=address, status=status, **refs)
        else:
            subject = rng.choice(vocab.EMAIL_SUBJECTS_IN).format(account=company, product=product)
            self.add(rep, "email", occurred, direction="in", subject=subject,
                     body=f"Hi {rep.first},\n\nCould you get back to me on this?\n\n{first}",
                     counterpart=address, status="received", **refs)


def _rep_days(rng: random.Random, tl: Timeline) -> tuple[list, list[float]]:
    days = tl.history_dates()
    weights = [DAY_WEIGHTS[d.weekday()] for d in days]
    if len(days) >= 30 and rng.random() < 0.6:  # a week of holiday
        start = rng.randrange(0, len(days) - 7)
        for i in range(start, start + 7):
            weights[i] = 0.0
    return days, list(accumulate(weights))


def make_activities(rng: random.Random, ids: DeterministicIds, config: DemoConfig,
                    org_id: uuid.UUID, territories: list[Territory], touches: list[LeadTouch],
                    tl: Timeline) -> Rows:
    w = _Writer(rng, ids, config, org_id, tl)
    reps = [t.rep for t in territories]
    total = round(config.accounts * ACTIVITIES_PER_ACCOUNT * tl.days / 180)
    quotas = rep_quotas(rng, reps, total)
    touches_of: dict[int, list[LeadTouch]] = {}
    for touch in touches:
        touches_of.setdefault(id(touch.rep), []).append(touch)
    for i, t in enumerate(territories):
        done = _lead_activities(w, touches_of.get(id(t.rep), []))
        if t.sites:
            _account_activities(w, t.rep, t.sites, max(0, quotas[i] - done))
    w.rows.sort(key=lambda row: row[0].int)  # id order = time order: sequential index inserts
    return Rows("activities", COLUMNS, w.rows)


def _lead_activities(w: _Writer, touches: list[LeadTouch]) -> int:
    """Calls, emails, texts and door visits while a lead was being worked."""
    rng, tl, count = w.rng, w.tl, 0
    for touch in touches:
        rep, tz = touch.rep, touch.rep.timezone
        span = max(1, int((touch.end - touch.start).total_seconds()))
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            day = tl.local_date(touch.start + timedelta(seconds=rng.randint(0, span)), tz)
            if day.weekday() >= 5:
                day -= timedelta(days=day.weekday() - 4)  # worked on the Friday
            # Start and end are working moments themselves, so clamping keeps office hours.
            occurred = min(touch.end, max(touch.start, tl.work_moment(rng, day, tz)))
            kind = rng.choices(LEAD_TYPES, cum_weights=LEAD_TYPE_CUM, k=1)[0]
            refs = {"lead": touch.lead_id}
            if kind == "visit":
                w.visit(rep, occurred, touch.lat, touch.lng, 20, always_verified=True, **refs)
            elif kind == "call":
                w.call(rep, occurred, touch.phone, **refs)
            elif kind == "email":
                w.email(rep, occurred, touch.email, touch.first, "your business", **refs)
            else:
                w.text(rep, occurred, touch.phone, touch.first, **refs)
            count += 1
    return count


def _account_activities(w: _Writer, rep: Person, sites: list[Site], count: int) -> None:
    rng, tl, tz = w.rng, w.tl, rep.timezone
    days, day_cum = _rep_days(rng, tl)
    site_cum = list(accumulate(
        STATUS_WEIGHT[s.status] * (30 / s.visit_every_days) ** 0.7 for s in sites
    ))
    picked_sites = rng.choices(sites, cum_weights=site_cum, k=count)
    picked_days = rng.choices(days, cum_weights=day_cum, k=count)
    kinds = rng.choices(TYPES, cum_weights=TYPE_CUM, k=count)
    for site, day, kind in zip(picked_sites, picked_days, kinds):
        occurred = tl.work_moment(rng, day, tz)
        contact = rng.choice(site.contacts) if site.contacts else None
        opportunity = None
        for deal_id, opened, closed in site.deals:
            if opened <= occurred <= closed and rng.random() < 0.5:
                opportunity = deal_id
                break
        refs = {"account": site.id, "contact": contact.id if contact else None,
                "opportunity": opportunity}
        first = contact.first if contact else "there"
        if kind == "visit":
            w.visit(rep, occurred, site.lat, site.lng, site.visit_minutes, **refs)
        elif kind == "call":
            number = (contact and (contact.mobile or contact.phone)) or site.phone
            w.call(rep, occurred, number, **refs)
        elif kind == "text":
            number = (contact and contact.mobile) or site.phone
            w.text(rep, occurred, number, first, **refs)
        elif kind == "email":
            address = contact.email if contact else f"info@{site.domain}"
            w.email(rep, occurred, address, first, site.name, **refs)
        elif kind == "meeting":
            product = rng.choice(vocab.PRODUCTS)
            in_person = rng.random() < 0.5
            w.add(rep, "meeting", occurred, duration=rng.choice((30, 45, 60, 90)) * 60,
                  subject=rng.choice(vocab.MEETING_SUBJECTS).format(product=product, first=first),
                  lat=site.lat if in_person else None, lng=site.lng if in_person else None, **refs)
        else:
            body = rng.choice(vocab.NOTES).format(first=first, product=rng.choice(vocab.PRODUCTS))
            w.add(rep, "note", occurred, body=body, **refs)
