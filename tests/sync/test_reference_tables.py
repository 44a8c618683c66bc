"""Templates, contests and leaderboard entries reach the phones the scope matrix names."""

from datetime import timedelta

from server.comms.tables import MessageTemplate
from server.common.records import insert_record
from server.common.time import utcnow
from server.db.ids import new_id
from server.db.tx import unit_of_work
from server.incentives.tables import Contest, ContestParticipant, LeaderboardEntry
from tests.builders import make_user
from tests.pipeline_builders import make_sales_org
from tests.sync.phone import Phone


async def make_contest(org, participants, *, visibility="all", status="published") -> dict:
    now = utcnow()
    async with unit_of_work():
        contest = await insert_record(Contest, org.org_id, {
            "name": "Spring visits", "status": status, "starts_at": now, "ends_at": now + timedelta(days=14),
            "created_by_id": org.manager.id, "visibility": visibility})
        for rank, person in enumerate(participants, start=1):
            await ContestParticipant.insert(ContestParticipant(id=new_id(), org_id=org.org_id,
                                                               contest_id=contest["id"], user_id=person.id))
            await insert_record(LeaderboardEntry, org.org_id, {"contest_id": contest["id"], "user_id": person.id,
                                                               "score": 100 - rank, "rank": rank})
    return contest


async def test_templates_reach_everyone_and_phones_cannot_write_them(client):
    org = await make_sales_org()
    async with unit_of_work():
        template = await insert_record(MessageTemplate, org.org_id, {"name": "Thanks", "channel": "email",
                                                                     "subject": "Thank you", "body": "Hi {first}"})
    for person in (org.rep, org.loner, org.admin):
        phone = await Phone(client, person).login()
        await phone.pull()
        assert phone.ids("message_templates") == {str(template["id"])}
    out = await phone.push([phone.mutation("message_templates", "update", template["id"], {"body": "x"})])
    assert out["results"][0]["error"]["code"] == "read_only_table"


async def test_contest_and_leaderboard_visibility(client):
    org = await make_sales_org()
    extra = [await make_user(org.org_id, "rep", manager=org.manager) for _ in range(3)]
    field = [org.rep, org.mate, *extra]  # ranks 1..5: the rep leads, extra[-1] is fifth
    open_board = await make_contest(org, field)
    top3 = await make_contest(org, field, visibility="top3")
    draft = await make_contest(org, field, status="draft")

    fifth = await Phone(client, extra[-1]).login()
    await fifth.pull()
    assert fifth.ids("contests") == {str(open_board["id"]), str(top3["id"])}  # drafts stay off reps' phones
    by_contest = {}
    for entry in fifth.tables["leaderboard_entries"].values():
        by_contest.setdefault(entry["contest_id"], set()).add(entry["rank"])
    assert by_contest[str(open_board["id"])] == {1, 2, 3, 4, 5}
    assert by_contest[str(top3["id"])] == {1, 2, 3, 5}  # the top three and their own row

    outsider = await Phone(client, org.loner).login()
    await outsider.pull()
    assert not outsider.ids("contests") and not outsider.ids("leaderboard_entries")

    manager = await Phone(client, org.manager).login()
    await manager.pull()
    assert manager.ids("contests") == {str(c["id"]) for c in (open_board, top3, draft)}
    assert len(manager.ids("leaderboard_entries")) == 15


async def test_old_schema_versions_do_not_get_the_new_tables(client):
    org = await make_sales_org()
    await make_contest(org, [org.rep])
    phone = await Phone(client, org.rep, schema_version=2).login()
    await phone.pull()
    assert not phone.ids("contests") and not phone.ids("leaderboard_entries")
