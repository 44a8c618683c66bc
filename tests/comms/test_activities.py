"""The activity log service: insert-if-absent, fixed columns, validation, who sees and edits what."""

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from server.comms import activities as service
from server.comms.schemas import ActivityIn, ActivityPatch
from server.comms.tables import Activity
from server.common.errors import Conflict, Forbidden, Invalid, NotFound
from server.common.time import utcnow
from server.db.tx import unit_of_work
from tests.activity_builders import give_territory, make_account, make_activity, scope_of
from tests.builders import make_org, make_user


def call(**fields) -> ActivityIn:
    base = dict(type="call", outcome="connected", occurred_at=utcnow() - timedelta(minutes=5),
                duration_s=95, counterpart="(312) 555-0142", subject="Follow-up")
    return ActivityIn(**{**base, **fields})


async def create(scope, data):
    async with unit_of_work():
        return await service.create_activity(scope, data)


async def test_same_id_twice_stores_one_activity(db):
    org = await make_org()
    rep = await make_user(org)
    scope = await scope_of(rep)
    data = call(id=uuid.uuid4(), occurred_at=datetime.now(timezone(timedelta(hours=-5))) - timedelta(hours=1))
    first, created = await create(scope, data)
    again, created_again = await create(scope, data)  # the phone never heard the first answer
    assert (created, created_again) == (True, False)
    assert again == first
    assert first["counterpart"] == "+13125550142" and first["rep_id"] == rep.id
    assert await Activity.count().where(Activity.id == data.id) == 1


async def test_taken_id_is_a_conflict_whoever_holds_it(db):
    org, other_org = await make_org(), await make_org()
    rep, colleague = await make_user(org), await make_user(org)
    stranger = await make_user(other_org, "admin")
    data = call(id=uuid.uuid4())
    await create(await scope_of(rep), data)
    with pytest.raises(Conflict) as different:
        await create(await scope_of(rep), call(id=data.id, outcome="voicemail"))
    assert different.value.code == "id_taken"
    for person in (colleague, stranger):
        with pytest.raises(Conflict) as taken:
            await create(await scope_of(person), data)
        assert taken.value.code == "id_taken"
    assert await Activity.count() == 1


@pytest.mark.parametrize("fields,field,code", [
    ({"occurred_at": utcnow() + timedelta(hours=30)}, "occurred_at", "occurred_at_in_future"),
    ({"occurred_at": utcnow() - timedelta(days=400)}, "occurred_at", "occurred_too_long_ago"),
    ({"outcome": "met"}, "outcome", "invalid_outcome"),
    ({"lat": 41.9}, "lng", "incomplete_location"),
    ({"ended_at": utcnow() - timedelta(hours=2)}, "ended_at", "invalid"),
    ({"counterpart": "not a number"}, "counterpart", "invalid_phone"),
    ({"status": "queued"}, "status", "invalid"),
    ({"account_id": uuid.uuid4()}, "account_id", "unknown_account"),
    ({"lead_id": uuid.uuid4()}, "lead_id", "unknown_lead"),
])
async def test_bad_activities_are_refused_with_the_field(db, fields, field, code):
    org = await make_org()
    rep = await make_user(org)
    with pytest.raises(Invalid) as exc:
        await create(await scope_of(rep), call(**fields))
    assert (exc.value.field, exc.value.code) == (field, code)


async def test_messages_keep_their_status_and_email_counterparts(db):
    org = await make_org()
    rep = await make_user(org)
    scope = await scope_of(rep)
    email, _ = await create(scope, ActivityIn(type="email", occurred_at=utcnow(), status="draft",
                                              counterpart=" Buyer@Example.COM ", outcome="sent ok"))
    assert (email["status"], email["counterpart"], email["outcome"]) == ("draft", "buyer@example.com", "sent ok")
    with pytest.raises(Invalid) as exc:
        await create(scope, ActivityIn(type="email", occurred_at=utcnow(), counterpart="nobody"))
    assert exc.value.field == "counterpart"


async def test_an_account_out_of_scope_cannot_be_linked(db):
    org = await make_org()
    rep, other = await make_user(org), await make_user(org)
    theirs = await make_account(other)
    with pytest.raises(Invalid) as exc:
        await create(await scope_of(rep), call(account_id=theirs))
    assert exc.value.code == "unknown_account"
    row, _ = await create(await scope_of(other), call(account_id=theirs))
    assert row["account_id"] == theirs


async def test_only_amendable_fields_change(db):
    org = await make_org()
    rep = await make_user(org)
    scope = await scope_of(rep)
    row, _ = await create(scope, call())
    async with unit_of_work():
        amended = await service.update_activity(scope, row["id"], ActivityPatch(
            body="Wants a quote", outcome="voicemail", duration_s=30))
    assert (amended["body"], amended["outcome"], amended["duration_s"]) == ("Wants a quote", "voicemail", 30)
    assert amended["version"] > row["version"] and amended["occurred_at"] == row["occurred_at"]
    for patch in (ActivityPatch(occurred_at="2024-01-01T00:00:00Z"), ActivityPatch(type="visit"),
                  ActivityPatch(rep_id=str(uuid.uuid4())), ActivityPatch(lat=1.0)):
        with pytest.raises(Invalid) as exc:
            async with unit_of_work():
                await service.update_activity(scope, row["id"], patch)
        assert exc.value.code == "immutable_field"
    with pytest.raises(Invalid) as bad:
        async with unit_of_work():
            await service.update_activity(scope, row["id"], ActivityPatch(outcome="met"))
    assert bad.value.field == "outcome"


async def test_rep_sees_own_and_recent_activity_on_accounts_in_scope(db):
    org = await make_org()
    manager = await make_user(org, "manager")
    rep = await make_user(org, manager=manager)
    colleague = await make_user(org, manager=manager)
    outsider = await make_user(org)
    mine = await make_account(rep, "Mine")
    shared = await make_account(colleague, "Shared")
    await give_territory(rep, shared)
    hidden = await make_account(colleague, "Hidden")
    own = await make_activity(rep, account_id=mine)
    recent_here = await make_activity(colleague, account_id=shared)
    old_here = await make_activity(colleague, account_id=shared, occurred_at=utcnow() - timedelta(days=120))
    elsewhere = await make_activity(colleague, account_id=hidden)
    unrelated = await make_activity(outsider)

    seen = {r["id"] for r in (await service.list_activities(await scope_of(rep), service.ActivityFilter()))[0]}
    assert seen == {own["id"], recent_here["id"]}
    with pytest.raises(NotFound):
        await service.get_activity(await scope_of(rep), elsewhere["id"])
    with pytest.raises(NotFound):
        await service.get_activity(await scope_of(rep), old_here["id"])
    team = {r["id"] for r in (await service.list_activities(await scope_of(manager), service.ActivityFilter()))[0]}
    assert team == {own["id"], recent_here["id"], old_here["id"], elsewhere["id"]}
    assert unrelated["id"] not in team
    # Visible is not editable: the colleague's visit stays theirs.
    with pytest.raises(Forbidden):
        async with unit_of_work():
            await service.delete_activity(await scope_of(rep), recent_here["id"])
    async with unit_of_work():
        await service.delete_activity(await scope_of(manager), recent_here["id"])
    with pytest.raises(NotFound):
        await service.get_activity(await scope_of(colleague), recent_here["id"])


async def test_filters_and_pages_cover_each_row_once(db):
    org = await make_org()
    rep = await make_user(org)
    scope = await scope_of(rep)
    base = utcnow() - timedelta(days=1)
    made = [await make_activity(rep, type="call" if i % 2 else "visit", occurred_at=base + timedelta(minutes=i % 3))
            for i in range(7)]
    for sort in ("-occurred_at", "-updated_at"):
        seen, cursor = [], None
        while True:
            rows, cursor = await service.list_activities(scope, service.ActivityFilter(), sort=sort,
                                                         limit=2, cursor=cursor)
            seen += [r["id"] for r in rows]
            if cursor is None:
                break
        assert sorted(seen) == sorted(r["id"] for r in made) and len(seen) == 7
    calls, _ = await service.list_activities(scope, service.ActivityFilter(types=["call"]))
    assert len(calls) == 3
    window, _ = await service.list_activities(scope, service.ActivityFilter(
        occurred_after=base + timedelta(minutes=1), occurred_before=base + timedelta(minutes=2)))
    assert {r["occurred_at"] for r in window} == {base + timedelta(minutes=1)}


async def test_a_retry_racing_the_original_stores_one_activity(db):
    org = await make_org()
    rep = await make_user(org)
    scope = await scope_of(rep)
    data = call(id=uuid.uuid4())
    results = await asyncio.gather(create(scope, data), create(scope, data))
    assert sorted(created for _, created in results) == [False, True]
    assert results[0][0] == results[1][0]
    assert await Activity.count() == 1
