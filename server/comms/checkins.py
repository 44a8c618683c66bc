"""Is a visit's check-in at the customer? Pure rules, no database (property-tested).

A check-in is compared with the account's location as it stood at the visit:

* ``unverifiable``: the phone had no fix, reported a mock location, or the
  account has no location to compare with;
* ``verified``: within the org's radius (100 m unless the org sets another),
  widened by the reported GPS accuracy, but by at most ``ACCURACY_CAP_M``: a
  phone claiming "somewhere within 5 km" must not verify a visit from the
  next town;
* ``out_of_range``: farther than that, with the distance in metres.

Positions are ``(lat, lng)`` tuples, the order of :mod:`server.geo.cells`
(which computes the distance; nothing here converts coordinate orders).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, NamedTuple

from server.geo.cells import distance_km

Verification = Literal["verified", "out_of_range", "unverifiable"]
LatLng = tuple[float, float]

#: Radius within which a check-in counts as at the customer (``organisations.checkin_radius_m``).
DEFAULT_RADIUS_M = 100
#: How far a poor GPS accuracy may widen the radius. 200 m covers a phone indoors or among tall
#: buildings (typical accuracies 20-150 m) without letting a cell-tower fix (1-5 km) verify anything.
ACCURACY_CAP_M = 200.0


class CheckInVerdict(NamedTuple):
    verification: Verification
    #: Metres between the check-in and the account; None when either position is unknown.
    distance_m: float | None


def allowed_distance_m(radius_m: float, accuracy_m: float | None, cap_m: float = ACCURACY_CAP_M) -> float:
    """The radius widened by the reported accuracy, by at most ``cap_m``."""
    widening = min(max(accuracy_m or 0.0, 0.0), cap_m)
    return radius_m + widening


def distance_m(a: LatLng, b: LatLng) -> float:
    return distance_km(a, b) * 1000.0


def verify_checkin(position: LatLng | None, accuracy_m: float | None, mock_location: bool,
                   account_position: LatLng | None, radius_m: float = DEFAULT_RADIUS_M,
                   cap_m: float = ACCURACY_CAP_M) -> CheckInVerdict:
    """The verdict on one check-in (see the module docstring)."""
    if position is None or account_position is None:
        return CheckInVerdict("unverifiable", None)
    meters = distance_m(position, account_position)
    if mock_location:
        # The distance is kept for the manager's eyes, but a spoofed fix proves nothing.
        return CheckInVerdict("unverifiable", meters)
    if meters <= allowed_distance_m(radius_m, accuracy_m, cap_m):
        return CheckInVerdict("verified", meters)
    return CheckInVerdict("out_of_range", meters)


def position_at(moments: list[tuple[datetime, LatLng | None]], at: datetime,
                current: LatLng | None) -> LatLng | None:
    """Where the account stood at ``at``.

    ``moments`` are the account's location changes as ``(changed_at, position
    before the change)``. The position at ``at`` is the one the first change
    after ``at`` replaced, or the current position when none came later. This
    needs no history row for an account never moved (its current location is
    the one it always had).
    """
    later = [(changed_at, before) for changed_at, before in moments if changed_at > at]
    if not later:
        return current
    return min(later, key=lambda m: m[0])[1]


# -- device clocks ------------------------------------------------------------------------------
#: A device clock this far ahead is ordinary drift: the time is kept as given.
CLOCK_TOLERANCE = timedelta(minutes=10)
#: Up to this far ahead the clock is wrong but the activity real: its time becomes the receive time.
CLOCK_CLAMP = timedelta(hours=24)


class DeviceTime(NamedTuple):
    occurred_at: datetime
    #: Seconds the device clock was ahead (device time minus server time) when clamped, else None.
    clock_offset_s: float | None


def device_time(occurred_at: datetime, now: datetime) -> DeviceTime | None:
    """``occurred_at`` as stored: kept, clamped to ``now`` with the offset, or None (too far ahead).

    Within ``CLOCK_TOLERANCE`` of ``now`` (or in the past) the time is kept;
    up to ``CLOCK_CLAMP`` ahead it becomes ``now`` and the clock offset is
    recorded; farther ahead there is no telling when it happened: None.
    """
    ahead = occurred_at - now
    if ahead <= CLOCK_TOLERANCE:
        return DeviceTime(occurred_at, None)
    if ahead <= CLOCK_CLAMP:
        return DeviceTime(now, ahead.total_seconds())
    return None


def as_device_clock(occurred_at: datetime, clock_offset_s: float | None) -> datetime:
    """The time the device reported, from a stored (possibly clamped) time and its offset."""
    if clock_offset_s is None:
        return occurred_at
    return occurred_at + timedelta(seconds=clock_offset_s)
