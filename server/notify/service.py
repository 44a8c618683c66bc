"""Queueing push notifications, inside the caller's unit of work.

:func:`notify_users` writes one ``push_outbox`` row per live device with a
push token, in the transaction of whatever caused the notification (a contest
published, a contest finished): a rollback queues nothing. Sending happens
after commit (``server.notify.sender``); a commit wakes this process's push
senders at once, other processes find the items when they next poll.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import msgspec

from server.common.background import Wakeups
from server.common.time import utcnow
from server.db.bulk import insert_rows
from server.db.direct import fetch, in_lists
from server.db.tx import current_unit

#: Longest title and body queued; a phone shows less, FCM refuses messages over 4 KB.
TITLE_MAX = 200
BODY_MAX = 1000
COLLAPSE_KEY_MAX = 64

COLUMNS = ("id", "org_id", "user_id", "device_id", "provider", "token", "title", "body", "data",
           "collapse_key", "state", "attempts", "due_at", "created_at")

#: This process's push senders, woken when a commit queues a push.
WAKEUPS = Wakeups()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


async def notify_users(org_id: uuid.UUID, user_ids: Iterable[uuid.UUID], *, title: str, body: str,
                       data: dict[str, str] | None = None, collapse_key: str | None = None) -> int:
    """Queue a push to every live device (not revoked, with a token) of ``user_ids`` in ``org_id``.

    Returns how many pushes were queued. Users of other orgs, inactive or
    deleted users and devices without a token get nothing. Must run inside
    ``unit_of_work()``; one read and one multi-row insert whatever the count.
    """
    unit = current_unit()
    wanted = sorted({str(u) for u in user_ids})
    if not wanted:
        return 0
    payload = msgspec.json.encode({str(k): str(v) for k, v in (data or {}).items()}).decode()
    title, body = _clip(title, TITLE_MAX), _clip(body, BODY_MAX)
    collapse_key = collapse_key[:COLLAPSE_KEY_MAX] if collapse_key else None
    now = utcnow()
    values: list[tuple] = []
    for condition, args in in_lists("d.user_id", wanted):
        rows = await fetch(
            "SELECT CAST(d.id AS TEXT), CAST(d.user_id AS TEXT), COALESCE(d.push_provider, 'fcm'), d.push_token "
            "FROM devices d JOIN users u ON u.id = d.user_id AND u.org_id = d.org_id "
            f"WHERE d.org_id = ? AND {condition} AND d.revoked_at IS NULL "
            "AND d.push_token IS NOT NULL AND d.push_token <> '' AND COALESCE(d.push_provider, 'fcm') = 'fcm' "
            "AND u.active = ? AND u.deleted_at IS NULL "
            "ORDER BY d.id", [str(org_id), *args, True])
        values += [(uuid.uuid4(), org_id, uuid.UUID(user_id), uuid.UUID(device_id), provider, token, title,
                    body, payload, collapse_key, "pending", 0, now, now)
                   for device_id, user_id, provider, token in rows]
    if not values:
        return 0
    await insert_rows("push_outbox", COLUMNS, values)
    unit.after_commit(WAKEUPS.wake)
    return len(values)
