"""Cursor encoding and the keyset order, as properties."""

import uuid
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.common.errors import Invalid
from server.common.keyset import clamp_limit, decode_cursor, encode_cursor

names = st.text(min_size=1, max_size=60)
times = st.datetimes(timezones=st.just(timezone.utc))


@given(names, st.uuids())
def test_name_cursor_round_trips(name, row_id):
    assert decode_cursor(encode_cursor("name", name, row_id), "name") == (name, row_id)


@given(times, st.uuids())
def test_time_cursor_round_trips(at, row_id):
    assert decode_cursor(encode_cursor("-updated_at", at, row_id), "-updated_at") == (at, row_id)


@given(st.text(max_size=40))
def test_garbage_cursor_is_invalid_not_a_crash(token):
    try:
        decode_cursor(token, "name")
    except Invalid as exc:
        assert exc.code == "invalid_cursor"


def test_cursor_of_another_sort_is_refused():
    token = encode_cursor("name", "Acme", uuid.uuid4())
    with pytest.raises(Invalid):
        decode_cursor(token, "-updated_at")


def test_limits():
    assert clamp_limit(None) == 50 and clamp_limit(200) == 200
    for bad in (0, -1, 201):
        with pytest.raises(Invalid):
            clamp_limit(bad)


def test_cursor_is_opaque_text():
    token = encode_cursor("-updated_at", datetime(2026, 1, 2, tzinfo=timezone.utc), uuid.uuid4())
    assert token.isascii() and "=" not in token
