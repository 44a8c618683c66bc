import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.common.errors import Invalid
from server.common.phones import normalize_phone
from server.geo.cells import POINT_RESOLUTION, cell_to_latlng, latlng_to_cell

lats = st.floats(-89.9, 89.9)
lngs = st.floats(-179.9, 179.9)


@given(lats, lngs)
def test_cell_centre_maps_back_to_the_same_cell(lat, lng):
    cell = latlng_to_cell(lat, lng)
    assert latlng_to_cell(*cell_to_latlng(cell), POINT_RESOLUTION) == cell


def test_lat_lng_order():
    # Chicago is at lat 41.88, lng -87.63; swapped it would be in Antarctica's ocean.
    lat, lng = cell_to_latlng(latlng_to_cell(41.8781, -87.6298))
    assert abs(lat - 41.8781) < 0.01 and abs(lng + 87.6298) < 0.01
    with pytest.raises(ValueError):
        latlng_to_cell(-87.6298 - 100, 41.8781)


def test_phone_numbers_become_e164():
    assert normalize_phone("(312) 555-0142") == "+13125550142"
    assert normalize_phone("+44 20 7946 0958") == "+442079460958"
    assert normalize_phone("  ") is None
    with pytest.raises(Invalid):
        normalize_phone("call me maybe")
