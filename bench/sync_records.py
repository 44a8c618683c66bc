"""The records of a rep's first sync, as plain JSON dicts, for comparing sync servers.

    .venv/bin/python bench/sync_records.py [--seed 1] [--check]

``record_shapes(seed)`` gives one rep's book: 5,000 accounts, 10,000 contacts
and 20,000 activities (35,000 records), pure and seeded (the same seed gives
the same dicts, ids included). ``activity_stream(seed, shapes)`` then yields
new activities, as a phone would push them, for the write benchmarks.

Every dict is a valid request body of this project's own API (``AccountIn``,
``ContactIn``, ``ActivityIn``: ``--check`` decodes them all with those types),
so the same dicts can be loaded into fieldsales and into another server
(``bench/kinto_side.py`` stores them as Kinto records). Ids are client-made
UUIDs as on a phone (UUIDv7 for activities), so a retried push never
duplicates. ``owner_id`` defaults to one fixed rep id: a loader into
fieldsales maps it to a real user of the org.

Places are a Colorado Front Range territory with real area codes, so the
numbers parse as valid NANP numbers; addresses are made up, mail domains are
under the reserved ``example.com``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

COUNTS = {"accounts": 5_000, "contacts": 10_000, "activities": 20_000}
#: The rep whose book this is (a loader into fieldsales maps it to a real user).
DEFAULT_OWNER_ID = "0192f5a0-0000-7000-8000-00000000a11c"
#: Activities span the 180 days before this instant (fixed: same seed, same dicts).
UNTIL = datetime(2026, 11, 30, 18, 0, tzinfo=timezone(timedelta(hours=-7)))
DAYS = 180

# city, postal code, lat, lng, area codes
PLACES = (
    ("Denver", "80202", 39.7392, -104.9903, ("303", "720")),
    ("Aurora", "80012", 39.7294, -104.8319, ("303", "720")),
    ("Lakewood", "80226", 39.7047, -105.0814, ("303", "720")),
    ("Boulder", "80302", 40.0150, -105.2705, ("303", "720")),
    ("Longmont", "80501", 40.1672, -105.1019, ("303", "720")),
    ("Littleton", "80120", 39.6133, -105.0166, ("303", "720")),
    ("Fort Collins", "80521", 40.5853, -105.0844, ("970",)),
    ("Greeley", "80631", 40.4233, -104.7091, ("970",)),
    ("Colorado Springs", "80903", 38.8339, -104.8214, ("719",)),
    ("Pueblo", "81003", 38.2544, -104.6091, ("719",)),
)
PLACE_WEIGHTS = (30, 12, 10, 9, 6, 7, 9, 5, 9, 3)
INDUSTRIES = ("grocery", "pharmacy", "hardware", "restaurant", "clinic", "salon", "auto repair",
              "convenience", "garden center", "pet supplies", "bakery", "dental", "fitness")
NAME_HEADS = ("Summit", "Pikes Peak", "Front Range", "Mile High", "Aspen", "Blue Spruce", "Cherry Creek",
              "Red Rocks", "Foothills", "Prairie", "Columbine", "Larimer", "Platte", "Timberline",
              "Evergreen", "Sunrise", "Golden", "Silver Plume", "Bluebird", "Canyon")
NAME_TAILS = {"grocery": ("Market", "Grocers", "Foods"), "pharmacy": ("Pharmacy", "Drug", "Apothecary"),
              "hardware": ("Hardware", "Supply", "Tool & Supply"), "restaurant": ("Grill", "Kitchen", "Diner"),
              "clinic": ("Family Clinic", "Health", "Urgent Care"), "salon": ("Salon", "Hair Studio", "Spa"),
              "auto repair": ("Auto", "Motors", "Tire & Auto"), "convenience": ("Stop", "Quick Mart", "Corner Store"),
              "garden center": ("Gardens", "Nursery", "Garden Center"), "pet supplies": ("Pet Supply", "Feed & Pet", "Pets"),
              "bakery": ("Bakery", "Bread Co.", "Bakehouse"), "dental": ("Dental", "Smiles", "Dentistry"),
              "fitness": ("Fitness", "Gym", "Athletic Club")}
STREETS = ("Main St", "Colfax Ave", "Broadway", "Federal Blvd", "Wadsworth Blvd", "College Ave", "Pearl St",
           "Academy Blvd", "Santa Fe Dr", "Alameda Ave", "Mississippi Ave", "Quebec St", "Union Blvd",
           "Mountain Ave", "Havana St", "Arapahoe Rd", "Baseline Rd", "Harmony Rd", "Nevada Ave")
FIRST = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
         "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen",
         "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Sandra", "Mark", "Ashley", "Luis", "Emily",
         "Steven", "Maria", "Andrew", "Michelle", "Kevin", "Amanda", "Brian", "Melissa", "Jose", "Stephanie")
LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
        "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
        "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
        "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores")
TITLES = ("Owner", "Store Manager", "Purchasing Manager", "Office Manager", "Assistant Manager",
          "General Manager", "Buyer", "Operations Lead", None)
ACTIVITY_TYPES = ("visit", "call", "email", "text", "note", "meeting")
ACTIVITY_WEIGHTS = (30, 35, 15, 10, 5, 5)
OUTCOMES = {"visit": ("met", "not_available", "left_material", "closed"),
            "call": ("connected", "voicemail", "no_answer", "busy", "failed"),
            "meeting": ("held", "rescheduled"), "email": (None,), "text": (None,), "note": (None,)}
NOTES = ("Restocked the display and checked expiry dates.", "Owner asked for the spring price list.",
         "Discussed volume discount for Q1; follow up next week.", "New manager, introduced our catalogue.",
         "Competitor samples on the counter. Left ours.", "Order placed for two cases, delivery Thursday.",
         "Closed for renovation until the 15th.", "Wants a demo of the new line at the next visit.")
SUBJECTS = ("Price list", "Your order", "Follow-up from today's visit", "Spring promotion",
            "Delivery schedule", "Catalogue", "Invoice question")


def _uuid4(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _uuid7(rng: random.Random, when: datetime) -> str:
    """A UUIDv7 (time-ordered, as the app makes them) for ``when``, random bits from ``rng``."""
    ms = int(when.timestamp() * 1000) & ((1 << 48) - 1)
    value = (ms << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62) | rng.getrandbits(62)
    return str(uuid.UUID(int=value))


def _phone(rng: random.Random, codes: tuple[str, ...]) -> str:
    while True:
        exchange = rng.randint(200, 999)
        if exchange != 555 and exchange % 100 != 11:
            return f"+1{rng.choice(codes)}{exchange}{rng.randint(0, 9999):04d}"


def _slug(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())[:30] or "shop"


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def _account(rng: random.Random, owner_id: str) -> dict:
    i = rng.choices(range(len(PLACES)), PLACE_WEIGHTS)[0]
    city, postal, lat, lng, codes = PLACES[i]
    industry = rng.choice(INDUSTRIES)
    name = f"{rng.choice(NAME_HEADS)} {rng.choice(NAME_TAILS[industry])}"
    if rng.random() < 0.4:
        name = f"{name} {city}"
    domain = f"{_slug(name)}.example.com"
    status = rng.choices(("customer", "prospect", "inactive"), (55, 35, 10))[0]
    return {
        "id": _uuid4(rng),
        "name": name,
        "owner_id": owner_id,
        "status": status,
        "industry": industry,
        "phone": _phone(rng, codes),
        "email": f"info@{domain}",
        "website": f"https://www.{domain}",
        "address_line": f"{rng.randint(10, 19999)} {rng.choice(STREETS)}",
        "city": city,
        "state": "CO",
        "postal_code": postal,
        "country": "US",
        "lat": round(lat + rng.gauss(0, 0.05), 6),
        "lng": round(lng + rng.gauss(0, 0.06), 6),
        "potential": rng.randrange(5_000, 250_000, 500),
        "visit_every_days": rng.choice((7, 14, 14, 30, 30, 60, 90)) if status != "inactive" else None,
        "visit_minutes": rng.choice((15, 20, 30, 30, 45, 60)),
    }


def _contact(rng: random.Random, account: dict, owner_id: str) -> dict:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    codes = next(p[4] for p in PLACES if p[0] == account["city"])
    domain = account["email"].split("@", 1)[1]
    return {
        "id": _uuid4(rng),
        "account_id": account["id"],
        "owner_id": owner_id,
        "first_name": first,
        "last_name": last,
        "title": rng.choice(TITLES),
        "email": f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@{domain}" if rng.random() < 0.8 else None,
        "phone": _phone(rng, codes) if rng.random() < 0.5 else None,
        "mobile": _phone(rng, codes) if rng.random() < 0.85 else None,
    }


def _activity(rng: random.Random, accounts: list[dict], contacts_of: dict[str, list[dict]],
              occurred: datetime) -> dict:
    kind = rng.choices(ACTIVITY_TYPES, ACTIVITY_WEIGHTS)[0]
    account = rng.choice(accounts)
    people = contacts_of.get(account["id"]) or [None]
    contact = rng.choice(people)
    duration = {"visit": rng.randint(5, 75) * 60, "call": rng.randint(0, 1200),
                "meeting": rng.randint(15, 90) * 60}.get(kind)
    on_site = kind in ("visit", "meeting")
    counterpart = None
    if kind in ("call", "text"):
        counterpart = (contact and (contact["mobile"] or contact["phone"])) or account["phone"]
    elif kind == "email":
        counterpart = (contact and contact["email"]) or account["email"]
    direction = "in" if kind in ("call", "email", "text") and rng.random() < 0.2 else "out"
    return {
        "id": _uuid7(rng, occurred),
        "type": kind,
        "direction": direction,
        "outcome": rng.choice(OUTCOMES[kind]),
        "occurred_at": _iso(occurred),
        "ended_at": _iso(occurred + timedelta(seconds=duration)) if duration is not None else None,
        "duration_s": duration,
        "lat": round(account["lat"] + rng.gauss(0, 0.0002), 6) if on_site else None,
        "lng": round(account["lng"] + rng.gauss(0, 0.0002), 6) if on_site else None,
        "accuracy_m": round(rng.uniform(3, 40), 1) if on_site else None,
        "mock_location": False,
        "account_id": account["id"],
        "contact_id": contact and contact["id"],
        "subject": rng.choice(SUBJECTS) if kind == "email" else None,
        "body": rng.choice(NOTES) if kind in ("visit", "note", "meeting", "email", "text") else None,
        "counterpart": counterpart,
        "status": "queued" if kind in ("email", "text") and direction == "out" else None,
    }


def _contacts_by_account(contacts: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for c in contacts:
        out.setdefault(c["account_id"], []).append(c)
    return out


def record_shapes(seed: int = 1, *, accounts: int = COUNTS["accounts"], contacts: int = COUNTS["contacts"],
                  activities: int = COUNTS["activities"], owner_id: str = DEFAULT_OWNER_ID,
                  ) -> dict[str, list[dict]]:
    """``{"accounts": [...], "contacts": [...], "activities": [...]}``: one rep's first sync.

    Pure: the same arguments give equal dicts. Contacts belong to generated
    accounts, activities to generated accounts (and, when the account has any,
    one of its contacts); activities are spread over the last ``DAYS`` days and
    listed oldest first.
    """
    rng = random.Random(f"sync-records:{seed}")
    accs = [_account(rng, owner_id) for _ in range(accounts)]
    cons = [_contact(rng, accs[i % len(accs)] if i < len(accs) else rng.choice(accs), owner_id)
            for i in range(contacts)] if accs else []
    contacts_of = _contacts_by_account(cons)
    start = UNTIL - timedelta(days=DAYS)
    moments = sorted(start + timedelta(seconds=rng.uniform(0, DAYS * 86400)) for _ in range(activities))
    acts = [_activity(rng, accs, contacts_of, t.replace(microsecond=0)) for t in moments] if accs else []
    return {"accounts": accs, "contacts": cons, "activities": acts}


def activity_stream(seed: int, shapes: dict[str, list[dict]]) -> Iterator[dict]:
    """New activities after ``UNTIL`` (never an id of ``shapes``), endlessly: what phones push."""
    rng = random.Random(f"sync-push:{seed}")
    contacts_of = _contacts_by_account(shapes["contacts"])
    t = UNTIL
    while True:
        t += timedelta(seconds=rng.randint(1, 120))
        yield _activity(rng, shapes["accounts"], contacts_of, t)


def check_against_server_schemas(shapes: dict[str, list[dict]]) -> dict[str, int]:
    """Decode every dict with fieldsales' request types (raises on the first mismatch)."""
    import msgspec

    from server.accounts.contact_schemas import ContactIn
    from server.accounts.schemas import AccountIn
    from server.comms.schemas import ActivityIn

    types = {"accounts": AccountIn, "contacts": ContactIn, "activities": ActivityIn}
    for name, items in shapes.items():
        msgspec.json.decode(msgspec.json.encode(items), type=list[types[name]])
    return {name: len(items) for name, items in shapes.items()}


def main() -> None:
    import argparse
    import json
    import sys
    import time
    from pathlib import Path

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--check", action="store_true", help="decode every dict with fieldsales' request types")
    args = ap.parse_args()
    began = time.perf_counter()
    shapes = record_shapes(args.seed)
    took = time.perf_counter() - began
    for name, items in shapes.items():
        size = sum(len(json.dumps(r, separators=(",", ":"))) for r in items)
        print(f"{name:<11} {len(items):>6} records, {len(items[0])} fields, "
              f"{size / len(items):.0f} B of JSON on average")
    print(f"generated in {took:.2f} s")
    if args.check:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        print("valid request bodies of fieldsales:", check_against_server_schemas(shapes))


if __name__ == "__main__":
    main()
