import pytest

from server.common.errors import Invalid
from server.common.phones import normalize_phone

# The H3 cell tests moved to tests/geo/test_cells.py.


def test_phone_numbers_become_e164():
    assert normalize_phone("(312) 555-0142") == "+13125550142"
    assert normalize_phone("+44 20 7946 0958") == "+442079460958"
    assert normalize_phone("  ") is None
    with pytest.raises(Invalid):
        normalize_phone("call me maybe")
