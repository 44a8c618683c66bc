"""Corrections of an activity, kept as history: who changed which field from what to what.

An activity is a record of something that happened, so a change after the
fact is an amendment, not an overwrite: ``update_activity`` (the PATCH and a
sync push alike) writes one row here in the same transaction as the change,
and the activity's version after it, so each entry lines up with the version
phones and ETags see. Values are stored as JSON (times as ISO 8601 with their
offset), so the history reads the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import msgspec

from server.access.scope import Scope
from server.comms.tables import ActivityAmendment
from server.db.ids import new_id


class AmendmentOut(msgspec.Struct):
    amended_at: datetime
    amended_by_id: uuid.UUID
    #: The activity's version after this amendment.
    version: int
    #: Field -> ``{"from": old, "to": new}``.
    changes: dict[str, dict[str, Any]]


def amendment_out(row: dict) -> AmendmentOut:
    return AmendmentOut(amended_at=row["amended_at"], amended_by_id=row["amended_by_id"],
                        version=row["version"], changes=_decoded(row["changes"]))


def json_value(value: Any) -> Any:
    """A column value as JSON keeps it: times in ISO 8601 with their offset, ids as text."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def changed_fields(before: dict, after: dict) -> dict[str, dict[str, Any]]:
    """``{"field": {"from": old, "to": new}}`` for the keys of both that differ."""
    return {name: {"from": json_value(before[name]), "to": json_value(after[name])}
            for name in after if name in before and before[name] != after[name]}


async def record_amendment(org_id: uuid.UUID, activity_id: uuid.UUID, user_id: uuid.UUID,
                           before: dict, after: dict) -> dict | None:
    """Write one history entry for the fields that changed; None (and nothing written) when none did.

    ``after`` carries the activity's new ``version``; only the keys present in
    both ``before`` and ``after`` (other than ``version``) are compared.
    """
    changes = changed_fields({k: v for k, v in before.items() if k != "version"}, after)
    if not changes:
        return None
    row = {"id": new_id(), "org_id": org_id, "activity_id": activity_id, "amended_by_id": user_id,
           "version": after["version"], "changes": msgspec.json.encode(changes).decode()}
    await ActivityAmendment.insert(ActivityAmendment(**row))
    return await ActivityAmendment.select().where(ActivityAmendment.id == row["id"]).first()


async def list_amendments(scope: Scope, activity_id: uuid.UUID) -> list[dict]:
    """The amendments of an activity the caller sees (else ``NotFound``), oldest first."""
    # Imported here: server.comms.activities imports this module to record amendments.
    from server.comms.activities import get_activity

    activity = await get_activity(scope, activity_id)
    return await ActivityAmendment.select().where(
        (ActivityAmendment.org_id == activity["org_id"]) & (ActivityAmendment.activity_id == activity_id)
    ).order_by(ActivityAmendment.version)


def _decoded(changes: Any) -> dict[str, dict[str, Any]]:
    """The JSON column as a dict (Piccolo hands back text on SQLite and on PostgreSQL's ``json``)."""
    if isinstance(changes, (str, bytes)):
        return msgspec.json.decode(changes)
    return dict(changes)
