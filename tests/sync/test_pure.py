"""Property tests for the pure parts of sync: cursors, wire times, batch partitioning."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.common.errors import Conflict
from server.sync import cursor as cursors
from server.sync.push import Mutation, _runs, _units
from server.sync.wire import from_millis, to_millis

SECRET = b"s" * 32
times = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@given(times)
def test_millis_round_trip_to_the_millisecond(moment):
    back = from_millis(to_millis(moment))
    assert back <= moment < back + timedelta(milliseconds=1)
    assert to_millis(back) == to_millis(moment)


@given(st.integers(0, 2**40), st.integers(0, 2**40), st.integers(0, 30), st.integers(0, 1),
       st.one_of(st.none(), st.uuids().map(str), st.tuples(st.integers(0, 2**40), st.uuids().map(str)).map(list)))
def test_cursor_round_trip_and_tampering(target, since, table, stream, key):
    org, user = uuid.uuid4(), uuid.uuid4()
    cur = cursors.Cursor(cursors.FORMAT, str(org), str(user), target, since, "abc", table, stream, key)
    token = cursors.encode(cur, SECRET)
    assert cursors.decode(token, SECRET, org_id=org, user_id=user) == cur
    with pytest.raises(Conflict):
        cursors.decode(token, SECRET, org_id=org, user_id=uuid.uuid4())
    with pytest.raises(Conflict):
        cursors.decode(token, b"other" * 8, org_id=org, user_id=user)


def _mutation(i: int, table: str, op: str, group: str | None) -> Mutation:
    return Mutation(mutation_id=i, table=table, op=op, id=uuid.uuid4(), group=group)


batches = st.lists(st.tuples(st.sampled_from(["activities", "accounts", "tasks"]),
                             st.sampled_from(["insert", "update"]), st.sampled_from([None, None, "g"])),
                   max_size=30)


@given(batches, st.integers(0, 35))
def test_units_and_runs_partition_the_batch_in_order(spec, last):
    mutations, group_n = [], 0
    previous = None
    for i, (table, op, group) in enumerate(spec, start=1):
        if group and previous != "g":
            group_n += 1
        mutations.append(_mutation(i, table, op, f"g{group_n}" if group else None))
        previous = group
    units = list(_units(mutations))
    assert [m for unit in units for m in unit] == mutations
    runs = list(_runs(units, last))
    assert [m for run in runs for unit in run for m in unit] == mutations
    for run in runs:
        if len(run) > 1:  # a multi-unit run is replays only, or plain inserts into one bulk table
            replay = run[0][0].mutation_id <= last
            assert all((u[0].mutation_id <= last) == replay for u in run)
            if not replay:
                assert all(len(u) == 1 and u[0].op == "insert" and u[0].table == "activities" for u in run)
