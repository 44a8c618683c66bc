"""What the pure generator hands the loader: settings in, table rows out.

Rows are plain tuples of Python values (``uuid.UUID``, aware UTC ``datetime``,
``Decimal``, ``date``, ``bool``, ``str``, numbers, ``None``): the loader passes
them to the driver unchanged, and Piccolo's SQLite adapters (registered
globally when Piccolo's SQLite engine is imported) store them exactly as
Piccolo itself would. Synced tables carry no ``version`` column here; the
loader adds one per committed chunk.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from server.demo.geography import Place


@dataclass(frozen=True)
class DemoConfig:
    #: History is the ``days`` days before this date; it is never read from the clock here.
    today: date
    reps: int = 20
    accounts: int = 5000
    seed: int = 42
    days: int = 180
    org_name: str = "Demo Field Sales"
    slug: str = "demo-field-sales"
    timezone: str = "America/Chicago"
    currency: str = "USD"
    password: str = "demo-password"
    #: Hashed once by the caller (hashing is slow and salted, so not deterministic).
    password_hash: str = ""
    #: Radius of a verified check-in; the organisation default.
    checkin_radius_m: int = 100


@dataclass
class Rows:
    table: str
    columns: tuple[str, ...]
    rows: list[tuple] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class DemoData:
    config: DemoConfig
    org_id: uuid.UUID
    #: (email, role, password) for every demo user, admin first.
    logins: list[tuple[str, str, str]]
    #: Tables in foreign-key order (parents before children).
    tables: dict[str, Rows]

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.tables.items()}


@dataclass(eq=False, slots=True)
class Person:
    id: uuid.UUID
    role: str  # rep | manager | admin
    first: str
    last: str
    email: str
    metro: int
    timezone: str
    created_at: datetime
    phone: str
    manager_id: uuid.UUID | None = None
    capacity: float = 1.0
    home: tuple[float, float] | None = None
    region_id: uuid.UUID | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(eq=False, slots=True)
class ContactCard:
    id: uuid.UUID
    first: str
    last: str
    title: str
    email: str
    phone: str | None
    mobile: str | None
    created_at: datetime


@dataclass(eq=False, slots=True)
class Site:
    """An account with everything later steps need to know about it."""

    id: uuid.UUID
    name: str
    industry: str
    status: str
    place: Place
    address: str
    postal_code: str
    lat: float
    lng: float
    cell: str
    metro: int
    created_at: datetime
    domain: str
    phone: str
    visit_every_days: int
    visit_minutes: int
    owner: Person | None = None
    contacts: list[ContactCard] = field(default_factory=list)
    #: (opportunity id, open from, open until) for activities to refer to.
    deals: list[tuple[uuid.UUID, datetime, datetime]] = field(default_factory=list)
