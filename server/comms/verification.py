"""Verification of new activities: visits against the account's location at the visit.

Set-based, for one activity or a whole sync push alike: one query reads the
accounts' current positions with the org's radius, one reads the location
changes made since the earliest visit (usually none), then
:func:`server.comms.checkins.verify_checkin` decides each visit in memory.

Calls: a call the rep only reports is logged unverified (``verification``
null). The telephony provider's status callback (connected for at least a
minimum duration) is what will set ``verified`` on it; that lands with the
provider adapter, which should write ``verification`` through
:func:`server.common.records.update_record` so the change syncs down.
"""

from __future__ import annotations

from server.accounts.location_history import positions_before
from server.accounts.tables import Account
from server.comms.checkins import DEFAULT_RADIUS_M, position_at, verify_checkin

#: Activity types whose check-in is compared with the account's location.
CHECKIN_TYPES = ("visit",)


async def verify_visits(org_id, values: list[dict]) -> None:
    """Set ``verification`` and ``distance_m`` on the visits among ``values`` (activity columns)."""
    visits = [v for v in values if v["type"] in CHECKIN_TYPES]
    if not visits:
        return
    account_ids = sorted({v["account_id"] for v in visits if v.get("account_id") is not None})
    current: dict = {}
    radius = DEFAULT_RADIUS_M
    if account_ids:
        rows = await Account.select(Account.id, Account.lat, Account.lng,
                                    Account.org_id.checkin_radius_m.as_alias("radius")).where(
            (Account.org_id == org_id) & Account.id.is_in(account_ids))
        current = {r["id"]: (r["lat"], r["lng"]) if r["lat"] is not None and r["lng"] is not None else None
                   for r in rows}
        if rows and rows[0]["radius"] is not None:
            radius = rows[0]["radius"]
    since = min(v["occurred_at"] for v in visits)
    moves = await positions_before(sorted(current), since) if current else {}
    for v in visits:
        account_id = v.get("account_id")
        stood = position_at(moves.get(account_id, []), v["occurred_at"], current.get(account_id))
        here = (v["lat"], v["lng"]) if v.get("lat") is not None and v.get("lng") is not None else None
        verdict = verify_checkin(here, v.get("accuracy_m"), bool(v.get("mock_location")), stood, radius)
        v["verification"], v["distance_m"] = verdict

