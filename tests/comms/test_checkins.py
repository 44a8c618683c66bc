"""The check-in rules (server.comms.checkins) as properties: no database."""

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from server.comms.checkins import (
    ACCURACY_CAP_M,
    CLOCK_CLAMP,
    CLOCK_TOLERANCE,
    allowed_distance_m,
    as_device_clock,
    device_time,
    distance_m,
    position_at,
    verify_checkin,
)

# Away from the poles and the antimeridian, where "metres north" stays simple.
lats = st.floats(-60, 60)
lngs = st.floats(-170, 170)
points = st.tuples(lats, lngs)
accuracies = st.none() | st.floats(0, 5_000)
radii = st.integers(10, 1_000)
M_PER_DEG_LAT = 111_195.0


def north(p: tuple[float, float], metres: float) -> tuple[float, float]:
    return (p[0] + metres / M_PER_DEG_LAT, p[1])


@given(points, st.floats(0, 2_000), st.floats(0, 2_000), accuracies, radii)
def test_monotonic_in_distance(account, near, far, accuracy, radius):
    """Farther away never verifies when nearer did not (and nearer always does when farther did)."""
    near, far = sorted((near, far))
    v_near = verify_checkin(north(account, near), accuracy, False, account, radius)
    v_far = verify_checkin(north(account, far), accuracy, False, account, radius)
    if v_far.verification == "verified":
        assert v_near.verification == "verified"
    assert v_near.distance_m <= v_far.distance_m + 1e-6


@given(points, st.floats(0, 3_000), accuracies, radii)
def test_verified_exactly_within_the_widened_radius(account, metres, accuracy, radius):
    verdict = verify_checkin(north(account, metres), accuracy, False, account, radius)
    within = verdict.distance_m <= allowed_distance_m(radius, accuracy)
    assert verdict.verification == ("verified" if within else "out_of_range")
    assert math.isclose(verdict.distance_m, metres, rel_tol=1e-3, abs_tol=0.5)


@given(radii, accuracies, st.floats(0, 1_000))
def test_accuracy_widens_the_radius_by_at_most_the_cap(radius, accuracy, cap):
    allowed = allowed_distance_m(radius, accuracy, cap)
    assert radius <= allowed <= radius + cap
    assert allowed_distance_m(radius, accuracy) <= radius + ACCURACY_CAP_M
    # A poorer accuracy never narrows it.
    assert allowed_distance_m(radius, (accuracy or 0) + 50, cap) >= allowed


@given(points, st.floats(0, 500), radii)
def test_a_huge_accuracy_never_verifies_beyond_the_cap(account, beyond, radius):
    verdict = verify_checkin(north(account, radius + ACCURACY_CAP_M + 1 + beyond), 1e6, False, account, radius)
    assert verdict.verification == "out_of_range"


@given(points, st.none() | points, accuracies, radii)
def test_a_mock_location_is_always_unverifiable(account, here, accuracy, radius):
    assert verify_checkin(here, accuracy, True, account, radius).verification == "unverifiable"
    assert verify_checkin(account, accuracy, True, account, radius).verification == "unverifiable"


@given(st.none() | points, accuracies, st.booleans())
def test_no_fix_or_no_account_location_is_unverifiable(here, accuracy, mock):
    assert verify_checkin(None, accuracy, mock, here).verification == "unverifiable"
    assert verify_checkin(here, accuracy, mock, None) == ("unverifiable", None)


@given(st.floats(-60, 60).filter(lambda x: abs(x) > 1), st.floats(-60, 60).filter(lambda x: abs(x) > 1))
def test_lat_lng_order(lat, lng):
    """Positions are (lat, lng): swapping the order of one side puts it elsewhere on the globe."""
    if abs(lat - lng) < 0.01:
        return
    here = (lat, lng)
    assert verify_checkin(here, 10, False, (lat, lng)).verification == "verified"
    assert verify_checkin((lng, lat), 10, False, here).verification == "out_of_range"
    # 0.001 degree of latitude is ~111 m whatever the latitude: out of a 100 m radius.
    assert 100 < distance_m(here, (lat + 0.001, lng)) < 120


def test_known_distances():
    brooklyn = (40.6782, -73.9442)
    assert verify_checkin(north(brooklyn, 50), 5, False, brooklyn).verification == "verified"
    far = verify_checkin(north(brooklyn, 300), 5, False, brooklyn)
    assert far.verification == "out_of_range" and 295 < far.distance_m < 305
    assert verify_checkin(north(brooklyn, 290), 250, False, brooklyn).verification == "verified"  # 100 + 200 cap


T0 = datetime(2026, 11, 27, 12, tzinfo=UTC)
moments = st.lists(st.tuples(st.integers(-1000, 1000), st.none() | points), max_size=6, unique_by=lambda m: m[0])


@given(moments, st.integers(-1200, 1200), st.none() | points)
def test_position_at_is_the_one_the_next_change_replaced(changes, at_min, current):
    history = [(T0 + timedelta(minutes=m), before) for m, before in changes]
    at = T0 + timedelta(minutes=at_min)
    later = sorted((m, before) for m, before in changes if m > at_min)
    assert position_at(history, at, current) == (later[0][1] if later else current)
    # A change after every visit leaves older visits alone; none after: the current location.
    assert position_at(history, T0 + timedelta(days=1), current) == current


@given(st.integers(-10 * 86400, 3 * 86400))
def test_device_time_keeps_clamps_or_refuses(ahead_s):
    now = T0
    reported = now + timedelta(seconds=ahead_s)
    stored = device_time(reported, now)
    if timedelta(seconds=ahead_s) <= CLOCK_TOLERANCE:
        assert stored == (reported, None)
    elif timedelta(seconds=ahead_s) <= CLOCK_CLAMP:
        assert stored.occurred_at == now and stored.clock_offset_s == ahead_s
        assert as_device_clock(*stored) == reported  # a retry is recognised by the device's own time
    else:
        assert stored is None
