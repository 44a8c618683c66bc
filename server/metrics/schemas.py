"""Wire types of ``GET /api/v1/metrics``."""

from __future__ import annotations

import uuid
from datetime import date

import msgspec


class Measures(msgspec.Struct, kw_only=True):
    """Counts and sums over the bucket (money in the org's currency units, durations in seconds)."""

    visits: int = 0
    visits_verified: int = 0
    calls: int = 0
    calls_connected: int = 0
    calls_verified: int = 0
    texts: int = 0
    emails: int = 0
    meetings: int = 0
    appointments_set: int = 0
    leads_created: int = 0
    leads_converted: int = 0
    opps_created: int = 0
    opps_won: int = 0
    opps_lost: int = 0
    dwell_n: int = 0
    travel_n: int = 0
    opps_won_amount: float = 0.0
    opps_lost_amount: float = 0.0
    dwell_s: int = 0
    travel_s: int = 0
    connected_call_s: int = 0


class RatioValue(msgspec.Struct, kw_only=True):
    """A ratio with its parts; ``value`` is null (``reason`` says why) under the minimum denominator."""

    value: float | None
    numerator: float
    denominator: float
    reason: str | None = None


class Ratios(msgspec.Struct, kw_only=True):
    lead_to_opportunity: RatioValue
    win_rate: RatioValue
    verified_visit_share: RatioValue
    call_connect_rate: RatioValue
    avg_dwell_s: RatioValue
    avg_travel_s: RatioValue
    avg_deal: RatioValue


class MissingValue(msgspec.Struct, kw_only=True):
    """A metric without data: shown as absent, never as 0."""

    value: None = None
    reason: str = "no_data_source"


class Missing(msgspec.Struct, kw_only=True):
    #: Time on admin and data entry: the phone app does not report it yet.
    admin_s: MissingValue


class MetricsBucket(msgspec.Struct, kw_only=True):
    #: The calendar bucket (ISO week from Monday, month, quarter); ``partial`` when the range cuts it.
    period_start: date
    period_end: date
    partial: bool
    measures: Measures
    ratios: Ratios
    missing: Missing


class MetricsReport(msgspec.Struct, kw_only=True):
    #: ``rep``, ``team``, ``territory`` or ``scope`` (the caller's own scope).
    subject: str
    subject_id: uuid.UUID | None
    period: str
    from_date: date = msgspec.field(name="from")
    to_date: date = msgspec.field(name="to")
    #: The org's time zone: days are local days in it.
    timezone: str
    buckets: list[MetricsBucket]
    total: MetricsBucket
    notes: list[str] = msgspec.field(default_factory=list)
