"""The outbox: messages and calls the server owes a provider, kept in the database.

An outgoing email or text is queued in the transaction that stores its
activity (:func:`enqueue`), so a push that rolls back queues nothing and a
retried push (a replay) queues nothing again. Sending happens after commit,
outside any transaction (``server.comms.sender``), in three steps:

1. :func:`claim` takes due items under a lease and commits;
2. the sender hands them to the providers;
3. :func:`record` writes what happened: ``sent`` with the provider's
   reference, a retry later, or ``failed`` with the reason. Status changes are
   written through ``update_record``, so they reach the phone on its next sync.

A sender that dies between 2 and 3 leaves its items leased; when the lease
runs out another sender takes them and sends them again, with the same
``message_key`` (the email's Message-ID, the provider's idempotency token).
So a crash costs at most one duplicate per message that was in flight, and
the duplicate can be recognised.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import NamedTuple

from server.common.background import Wakeups
from server.common.records import update_record, update_records
from server.common.time import utcnow
from server.comms.callbacks import twilio_url
from server.comms.delivery import advances
from server.comms.providers import Outgoing, ProviderError
from server.comms.tables import Activity
from server.db.bulk import insert_rows
from server.db.direct import execute, execute_many, fetch, in_lists
from server.db.engine import is_sqlite
from server.db.tx import current_unit

#: Activity types the outbox sends, as their channel.
SENT_TYPES = ("email", "text")
#: Retries: 15 s doubling per attempt, at most an hour apart, ±20% so retries of a batch spread out.
BACKOFF_BASE_S = 15.0
BACKOFF_CAP_S = 3600.0
#: Message-ID domain when the org has no From address of its own.
DEFAULT_DOMAIN = "fieldsales.localhost"

#: This process's senders, woken when a commit queues something.
WAKEUPS = Wakeups()


class Claimed(NamedTuple):
    id: uuid.UUID
    org_id: uuid.UUID
    channel: str
    attempts: int
    key: str


def message_key(channel: str, activity_id: uuid.UUID, from_address: str | None) -> str:
    """The same on every attempt: an RFC 5322 Message-ID for emails, the activity id otherwise."""
    if channel != "email":
        return str(activity_id)
    domain = from_address.rpartition("@")[2] if from_address and "@" in from_address else DEFAULT_DOMAIN
    return f"<{activity_id}@{domain}>"


def backoff_s(attempt: int, retry_after_s: float | None = None, rand=random.random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based); the provider's ask wins if longer."""
    delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempt - 1)) * (0.8 + 0.4 * rand())
    return max(delay, retry_after_s or 0.0)


def wants_sending(row: dict) -> bool:
    return row["type"] in SENT_TYPES and row["direction"] == "out" and row.get("status") == "queued"


# -- queueing (inside the activity's transaction) ---------------------------------------
async def enqueue(org_id: uuid.UUID, rows: Sequence[dict], channel: str | None = None) -> int:
    """Queue the activities among ``rows`` that are to be sent; returns how many.

    ``channel`` forces one (click-to-call queues a call); otherwise emails and
    texts with status ``queued`` are taken.
    """
    chosen = list(rows) if channel else [r for r in rows if wants_sending(r)]
    if not chosen:
        return 0
    from_address = None
    if any((channel or r["type"]) == "email" for r in chosen):
        found = await fetch("SELECT email_from FROM organisations WHERE id = ?", [org_id])
        from_address = found[0][0] if found else None
    now = utcnow()
    values = [(r["id"], org_id, channel or r["type"], "pending", 0, now,
               message_key(channel or r["type"], r["id"], from_address), now) for r in chosen]
    await insert_rows("comms_outbox", ("id", "org_id", "channel", "state", "attempts", "due_at",
                                       "message_key", "created_at"), values)
    current_unit().after_commit(WAKEUPS.wake)
    return len(values)


# -- the sender's side ---------------------------------------------------------------------
async def claim(worker: str, limit: int, lease_s: float, channels: Sequence[str]) -> list[Claimed]:
    """Take up to ``limit`` due items for ``lease_s`` seconds (its own transaction; commit before sending).

    On PostgreSQL concurrent senders skip each other's rows (``SKIP LOCKED``);
    SQLite's write lock already serialises them.
    """
    if not channels:
        return []
    now = utcnow()
    lock = "" if is_sqlite() else " FOR UPDATE SKIP LOCKED"
    rows = await fetch(
        "UPDATE comms_outbox SET lease_until = ?, claimed_by = ?, attempts = attempts + 1 "
        "WHERE id IN (SELECT id FROM comms_outbox WHERE state = 'pending' AND due_at <= ? "
        "AND (lease_until IS NULL OR lease_until < ?) "
        f"AND channel IN ({', '.join('?' * len(channels))}) ORDER BY due_at LIMIT ?{lock}) "
        "RETURNING CAST(id AS TEXT), CAST(org_id AS TEXT), channel, attempts, message_key",
        [now + timedelta(seconds=lease_s), worker, now, now, *channels, limit])
    return [Claimed(uuid.UUID(r[0]), uuid.UUID(r[1]), r[2], r[3], r[4]) for r in rows]


async def load(items: Sequence[Claimed], mail_from: str, callback_base: str | None) -> dict[uuid.UUID, Outgoing]:
    """What to send for each claimed item; items whose activity is gone are left out."""
    if not items:
        return {}
    found: dict[uuid.UUID, Outgoing] = {}
    by_id = {i.id: i for i in items}
    for condition, args in in_lists("a.id", sorted(str(i) for i in by_id)):
        rows = await fetch(
            "SELECT CAST(a.id AS TEXT), a.counterpart, a.subject, a.body, u.full_name, u.email, u.phone_e164, "
            "o.email_from, o.sms_from FROM activities a JOIN users u ON u.id = a.rep_id "
            "JOIN organisations o ON o.id = a.org_id "
            f"WHERE {condition} AND a.deleted_at IS NULL", args)
        for activity_id, to, subject, body, rep_name, rep_email, rep_phone, email_from, sms_from in rows:
            item = by_id[uuid.UUID(activity_id)]
            found[item.id] = Outgoing(
                activity_id=item.id, channel=item.channel, key=item.key, to=to or "",
                sender=(email_from or mail_from) if item.channel == "email" else (sms_from or ""),
                subject=subject, body=body, rep_name=rep_name, rep_email=rep_email, rep_phone=rep_phone,
                status_callback=callback_url(callback_base, item))
    return found


def callback_url(base: str | None, item: Claimed) -> str | None:
    """Where the provider reports on a text or call (None for email, or without a public URL)."""
    if not base or item.channel == "email":
        return None
    kind = "call" if item.channel == "call" else "status"
    return f"{twilio_url(base, item.org_id, kind)}?activity={item.id}"


Result = str | ProviderError | None  # provider reference, refusal, or None: nothing to send


async def record(results: Sequence[tuple[Claimed, Result]], max_attempts: int) -> None:
    """Write each result (its own transaction, after sending): done, retry later, or failed.

    Successes, nearly all of a batch, are written set-based (``update_records``).
    """
    if not results:
        return
    now = utcnow()
    query = Activity.select().where(Activity.id.is_in([item.id for item, _ in results]))
    activities = {r["id"]: r for r in await (query if is_sqlite() else query.lock_rows())}
    sent: dict[uuid.UUID, list[tuple[dict, dict]]] = {}
    done: list[tuple] = []
    for item, result in results:
        row = activities.get(item.id)
        if isinstance(result, str):
            done.append(("done", None, now, item.id))
            if row is not None:
                changes = {"provider_ref": row["provider_ref"] or result}
                if advances(row["status"], "sent"):
                    changes |= {"status": "sent", "status_detail": None}
                sent.setdefault(row["org_id"], []).append((row, changes))
        elif result is None or row is None:
            done.append(("failed", "the activity was deleted before it was sent", now, item.id))
        elif result.permanent or item.attempts >= max_attempts:
            reason = result.reason if result.permanent else f"gave up after {item.attempts} attempts: {result.reason}"
            done.append(("failed", reason[:300], now, item.id))
            if advances(row["status"], "failed"):
                await update_record(Activity, row, {"status": "failed", "status_detail": reason[:300]})
        else:
            due = now + timedelta(seconds=backoff_s(item.attempts, result.retry_after_s))
            await execute("UPDATE comms_outbox SET due_at = ?, lease_until = NULL, claimed_by = NULL, "
                          "last_error = ? WHERE id = ?", [due, result.reason[:300], item.id])
    for org_id, updates in sent.items():
        await update_records(Activity, org_id, updates)
    await execute_many("UPDATE comms_outbox SET state = ?, last_error = ?, finished_at = ?, lease_until = NULL "
                       "WHERE id = ?", done)
