"""What each metric is: stored measures (counts and sums) and the ratios derived from them.

Pure module: no database, no Litestar. Every measure of ``rep_day_metrics`` is a
count or a sum, so a week, a team or a quarter is the plain sum of its rep-days
and every roll-up is exact. Ratios and averages are never stored: they are
computed at query time from their summed parts, with a minimum denominator so
one lead converted out of one never shows as "100%".
"""

from __future__ import annotations

from dataclasses import dataclass

#: The stored measures, in table column order (``rep_day_metrics``).
COUNTS = (
    "visits",            # activities of type visit
    "visits_verified",   # ... with verification 'verified' (geofence-verified check-in)
    "calls",             # activities of type call
    "calls_connected",   # ... with outcome 'connected'
    "calls_verified",    # ... with verification 'verified' (provider-confirmed)
    "texts",
    "emails",
    "meetings",
    "appointments_set",  # appointments created that day by the rep (created_by, else assignee)
    "leads_created",     # leads by owner, on their created_at day
    "leads_converted",   # leads by owner, on their converted_at day
    "opps_created",      # opportunities by owner, on their created_at day
    "opps_won",          # closed_won, on their closed_at day
    "opps_lost",         # closed_lost, on their closed_at day
    "dwell_n",           # visits with a check-out
    "travel_n",          # gaps counted in travel_s
)
#: Sums in seconds, or in cents for money (exact in integers on both engines).
SUMS = (
    "opps_won_cents",
    "opps_lost_cents",
    "dwell_s",           # check-in to check-out of visits with a check-out
    "travel_s",          # see TRAVEL_RULE
    "connected_call_s",  # duration of connected calls
)
MEASURES = COUNTS + SUMS
#: Money columns: stored in cents, shown in the org's currency units.
MONEY = {"opps_won_cents": "opps_won_amount", "opps_lost_cents": "opps_lost_amount"}

#: Working hours for travel, local time of the org (inclusive start, inclusive end).
WORKDAY_START = "07:00:00"
WORKDAY_END = "20:00:00"
TRAVEL_RULE = (
    "travel: for each visit with a check-out, the gap from that check-out to the same rep's next "
    "check-in (next visit by occurred_at) on the same local day, counted when it is positive, the "
    "check-out is at or after 07:00 local and the next check-in at or before 20:00 local"
)


@dataclass(frozen=True)
class Ratio:
    name: str
    numerator: tuple[str, ...]
    denominator: tuple[str, ...]
    min_denominator: int = 1
    #: Multiply the quotient by this (cents to currency units for money averages).
    scale: float = 1.0


RATIOS = (
    Ratio("lead_to_opportunity", ("leads_converted",), ("leads_created",), 5),
    Ratio("win_rate", ("opps_won",), ("opps_won", "opps_lost"), 5),
    Ratio("verified_visit_share", ("visits_verified",), ("visits",), 5),
    Ratio("call_connect_rate", ("calls_connected",), ("calls",), 5),
    Ratio("avg_dwell_s", ("dwell_s",), ("dwell_n",), 1),
    Ratio("avg_travel_s", ("travel_s",), ("travel_n",), 1),
    Ratio("avg_deal", ("opps_won_cents",), ("opps_won",), 1, 0.01),
)
RATIO_NAMES = tuple(r.name for r in RATIOS)

#: Measures with no data source yet: reported as absent with a reason, never as 0.
MISSING = {"admin_s": "no_data_source"}

PERIODS = ("day", "week", "month", "quarter")
MAX_RANGE_DAYS = 400


def ratio_value(ratio: Ratio, totals: dict[str, int]) -> dict:
    """``{"value", "numerator", "denominator", "reason"}`` of ``ratio`` over summed ``totals``."""
    num = sum(totals.get(m, 0) for m in ratio.numerator)
    den = sum(totals.get(m, 0) for m in ratio.denominator)
    if den < ratio.min_denominator or den == 0:
        return {"value": None, "numerator": num * ratio.scale if ratio.scale != 1 else num,
                "denominator": den, "reason": "not_enough_data"}
    return {"value": num * ratio.scale / den, "numerator": num * ratio.scale if ratio.scale != 1 else num,
            "denominator": den, "reason": None}


def public_measures(totals: dict[str, int]) -> dict[str, int | float]:
    """Stored measures as the API shows them (money in currency units)."""
    out: dict[str, int | float] = {}
    for name in MEASURES:
        value = totals.get(name, 0)
        if name in MONEY:
            out[MONEY[name]] = round(value / 100, 2)
        else:
            out[name] = value
    return out
