"""What providers tell us: inbound texts, calls and emails, and the delivery status of what we sent.

Every entry point runs inside the caller's ``unit_of_work()`` and knows nothing of HTTP.
Providers deliver at least once, in any order, and sometimes before the sender
has recorded the provider's id; so each event is first claimed in
``webhook_receipts`` (a replay claims nothing and changes nothing), statuses only
move as :func:`server.comms.delivery.advances` allows, and every change to an
activity goes through ``insert_record``/``update_record`` so phones get it on
their next pull.

An inbound message lands on the rep who owns the conversation (:func:`find_match`);
one nobody can be found for goes to the org's inbox for an admin to sort out,
because an activity needs a rep.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import NamedTuple

import msgspec
from piccolo.query import WhereRaw

from server.accounts.tables import Account, Contact
from server.common.errors import Invalid, NotFound
from server.common.phones import normalize_phone
from server.common.records import insert_record, update_record
from server.common.time import utcnow
from server.comms.delivery import advances
from server.comms.tables import Activity, InboxItem
from server.db import direct
from server.db.engine import is_sqlite
from server.db.ids import new_id
from server.orgs.tables import Organisation

log = logging.getLogger("fieldsales.comms.inbound")

MAX_BODY = 20_000
#: Channels that share phone numbers: a customer answers a call with a text and the reverse.
FAMILIES = {"text": ("text", "call"), "call": ("text", "call"), "email": ("email",)}
#: Twilio ``MessageStatus`` -> ours; any other status (queued, sending, accepted...) is ignored.
MESSAGE_STATUSES = {"sent": "sent", "delivered": "delivered", "read": "delivered",
                    "undelivered": "failed", "failed": "failed"}
#: Twilio call statuses that end a call without a conversation -> the activity's outcome.
CALL_FAILURES = {"busy": "busy", "no-answer": "no_answer", "failed": "failed", "canceled": "failed"}
INBOUND_CALL_ENDS = ("completed", "no-answer", "busy")

CLAIM_SQL = ("INSERT INTO webhook_receipts (id, org_id, provider, ref, event, received_at) "
             "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, provider, ref, event) DO NOTHING RETURNING id")


class Inbound(msgspec.Struct, kw_only=True):
    """One inbound text, call or email, as any provider adapter describes it."""

    channel: str                 # "text" | "email" | "call"
    sender: str                  # E.164 number or lower-cased email address
    recipient: str | None = None
    subject: str | None = None
    body: str | None = None
    occurred_at: datetime
    provider: str                # "twilio" | "email"
    ref: str                     # MessageSid / CallSid / Message-ID
    replying_to: list[str] = []  # Message-IDs this answers (In-Reply-To, References), emails
    outcome: str | None = None   # calls
    duration_s: int | None = None
    verification: str | None = None


class Match(NamedTuple):
    rep_id: uuid.UUID | None
    account_id: uuid.UUID | None
    contact_id: uuid.UUID | None


def _cut(value: str | None, size: int) -> str | None:
    return value[:size] if value is not None else None


async def require_org(org_id: uuid.UUID) -> dict:
    """The organisation, or ``NotFound``: a signed callback can still name an org that is gone."""
    org = await Organisation.select(Organisation.id, Organisation.call_verify_min_s).where(
        Organisation.id == org_id).first()
    if org is None:
        raise NotFound("organisation not found")
    return org


async def claim_receipt(org_id: uuid.UUID, provider: str, ref: str, event: str) -> bool:
    """Record that this provider event was taken in; ``False`` when it already was (a replay).

    ``ON CONFLICT DO NOTHING`` on the unique index: two copies arriving at once
    queue on the index entry, and the second finds the first's row.
    """
    rows = await direct.fetch(CLAIM_SQL, [new_id(), org_id, provider[:20], ref[:200], event[:40], utcnow()])
    return bool(rows)


# -- who an inbound message belongs to ---------------------------------------------
async def find_match(org_id: uuid.UUID, msg: Inbound) -> Match | None:
    """The rep, account and contact an inbound message belongs to (rules in order; see the module)."""
    live = (Activity.org_id == org_id) & Activity.deleted_at.is_null() & (Activity.direction == "out")
    columns = (Activity.rep_id, Activity.account_id, Activity.contact_id)
    if msg.channel == "email" and msg.replying_to:
        row = await Activity.select(*columns).where(
            live & (Activity.type == "email") & Activity.provider_ref.is_in(msg.replying_to[:50])
        ).order_by(Activity.occurred_at, ascending=False).first()
        if row:
            return Match(row["rep_id"], row["account_id"], row["contact_id"])
    row = await Activity.select(*columns).where(
        live & Activity.type.is_in(list(FAMILIES[msg.channel])) & (Activity.counterpart == msg.sender)
    ).order_by(Activity.occurred_at, ascending=False).first()
    if row:
        return Match(row["rep_id"], row["account_id"], row["contact_id"])
    for match in (await _contact_match(org_id, msg), await _account_match(org_id, msg)):
        if match is not None and match.rep_id is not None:
            return match
    return None


def _address(table, msg: Inbound):
    """Where ``table`` keeps the sender's number or address; emails compare lower-cased."""
    if msg.channel == "email":
        return WhereRaw("lower(email) = {}", msg.sender.lower())
    return table.phone_e164 == msg.sender


async def _contact_match(org_id: uuid.UUID, msg: Inbound) -> Match | None:
    contact = await Contact.select(Contact.id, Contact.account_id, Contact.owner_id).where(
        (Contact.org_id == org_id) & Contact.deleted_at.is_null() & _address(Contact, msg)
    ).order_by(Contact.updated_at, ascending=False).first()
    if contact is None:
        return None
    owner = None
    if contact["account_id"] is not None:
        account = await Account.select(Account.owner_id).where(
            (Account.id == contact["account_id"]) & Account.deleted_at.is_null()).first()
        owner = account["owner_id"] if account else None
    return Match(owner or contact["owner_id"], contact["account_id"], contact["id"])


async def _account_match(org_id: uuid.UUID, msg: Inbound) -> Match | None:
    account = await Account.select(Account.id, Account.owner_id).where(
        (Account.org_id == org_id) & Account.deleted_at.is_null() & _address(Account, msg)
    ).order_by(Account.updated_at, ascending=False).first()
    return Match(account["owner_id"], account["id"], None) if account else None


# -- storing it ----------------------------------------------------------------------
async def log_activity(org_id: uuid.UUID, msg: Inbound, match: Match) -> dict:
    """The inbound activity on the matched rep's timeline (synced to every phone whose scope covers it)."""
    now = utcnow()
    values = {
        "rep_id": match.rep_id, "account_id": match.account_id, "contact_id": match.contact_id,
        "type": msg.channel, "direction": "in",
        "status": None if msg.channel == "call" else "received",
        "counterpart": _cut(msg.sender, 254), "subject": _cut(msg.subject, 300),
        "body": _cut(msg.body, MAX_BODY),
        # A sender's clock ahead of ours (email Date headers) must not put the message in the future.
        "occurred_at": min(msg.occurred_at, now), "received_at": now,
        "provider_ref": _cut(msg.ref, 120),
        "outcome": msg.outcome, "duration_s": msg.duration_s, "verification": msg.verification,
    }
    return await insert_record(Activity, org_id, values)


async def to_inbox(org_id: uuid.UUID, msg: Inbound) -> dict:
    """An inbox item for the org's admins: nobody to give the message to."""
    item_id = new_id()
    await InboxItem.insert(InboxItem(
        id=item_id, org_id=org_id, channel=msg.channel, sender=_cut(msg.sender, 254),
        recipient=_cut(msg.recipient, 254), subject=_cut(msg.subject, 300), body=_cut(msg.body, MAX_BODY),
        occurred_at=min(msg.occurred_at, utcnow()), received_at=utcnow(), provider_ref=_cut(msg.ref, 200),
        state="open"))
    return await InboxItem.select().where(InboxItem.id == item_id).first()


async def receive(org_id: uuid.UUID, msg: Inbound) -> dict:
    """Take in one inbound message once: logged on a rep's timeline, or put in the inbox."""
    await require_org(org_id)
    if not await claim_receipt(org_id, msg.provider, msg.ref, "received"):
        return {"outcome": "replay"}
    match = await find_match(org_id, msg)
    if match is None:
        item = await to_inbox(org_id, msg)
        return {"outcome": "inbox", "inbox_id": item["id"]}
    activity = await log_activity(org_id, msg, match)
    return {"outcome": "logged", "activity_id": activity["id"]}


# -- delivery status of what we sent -------------------------------------------------
async def _our_activity(org_id: uuid.UUID, kind: str, activity_id: uuid.UUID | None, sid: str) -> dict | None:
    """The outbound activity a callback is about: by our id when the URL names it, else by the SID.

    Always within ``org_id``: a callback through one org's URL cannot touch another's activity.
    The row is locked (PostgreSQL) so concurrent callbacks for one activity queue.
    """
    where = (Activity.org_id == org_id) & Activity.deleted_at.is_null() & (Activity.type == kind) & (
        Activity.direction == "out")
    if activity_id is None and not sid:
        return None
    where = where & ((Activity.id == activity_id) if activity_id is not None else (Activity.provider_ref == sid))
    if not is_sqlite():
        await Activity.select(Activity.id).where(where).lock_rows()
    return await Activity.select().where(where).first()


async def message_status(org_id: uuid.UUID, activity_id: uuid.UUID | None, sid: str, status: str,
                         error_code: str | None) -> str:
    """Apply a text's status callback; ``updated``, ``replay``, ``ignored`` or ``unknown``."""
    await require_org(org_id)
    new = MESSAGE_STATUSES.get(status)
    if new is None:
        return "ignored"
    row = await _our_activity(org_id, "text", activity_id, sid)
    if row is None:
        log.warning("status callback for an unknown text", extra={"org_id": str(org_id), "sid": sid,
                                                                  "activity_id": str(activity_id)})
        return "unknown"
    if not await claim_receipt(org_id, "twilio", sid, f"status:{status}"):
        return "replay"
    changes: dict = {}
    if row["provider_ref"] is None and sid:
        changes["provider_ref"] = sid[:120]  # the callback overtook the sender recording the SID
    moved = advances(row["status"], new)
    if moved:
        changes["status"] = new
        if new == "failed":
            changes["status_detail"] = f"twilio {error_code}" if error_code else "twilio failed"
    await update_record(Activity, row, changes)
    return "updated" if moved else "ignored"


def _int(raw: str | None) -> int | None:
    try:
        return max(0, int(raw)) if raw not in (None, "") else None
    except ValueError:
        return None


async def call_status(org_id: uuid.UUID, activity_id: uuid.UUID | None, params: Mapping[str, str],
                      leg: str | None) -> str:
    """Apply a call's status callback: our click-to-call activity, or an inbound call to the org's number.

    ``leg == "dial"`` is the ``<Dial action>`` reporting the customer's leg;
    otherwise the parent leg (the rep's phone). Returns what happened.
    """
    org = await require_org(org_id)
    if activity_id is None and params.get("Direction") == "inbound":
        return await _inbound_call(org_id, org["call_verify_min_s"], params)
    dial = leg == "dial"
    status = params.get("DialCallStatus" if dial else "CallStatus") or ""
    sid = params.get("DialCallSid" if dial else "CallSid") or params.get("CallSid") or ""
    duration = _int(params.get("DialCallDuration" if dial else "CallDuration"))
    row = await _our_activity(org_id, "call", activity_id, params.get("CallSid") or "")
    if row is None:
        log.warning("status callback for an unknown call", extra={"org_id": str(org_id), "sid": sid,
                                                                  "activity_id": str(activity_id)})
        return "unknown"
    if status not in ("completed", *CALL_FAILURES):
        return "ignored"  # queued, ringing, in-progress: nothing to record yet
    if not await claim_receipt(org_id, "twilio", sid, f"{'dial' if dial else 'call'}:{status}"):
        return "replay"
    changes = _call_changes(row, dial, status, duration, org["call_verify_min_s"])
    if row["provider_ref"] is None and params.get("CallSid"):
        changes["provider_ref"] = params["CallSid"][:120]
    before = row["version"]
    after = await update_record(Activity, row, changes)
    return "updated" if after["version"] != before else "ignored"


def _call_changes(row: dict, dial: bool, status: str, duration: int | None, min_s: int) -> dict:
    changes: dict = {}
    if status == "completed":
        if advances(row["status"], "delivered"):
            changes["status"] = "delivered"
    elif advances(row["status"], "failed"):
        who = "customer" if dial else "rep's phone"
        changes.update(status="failed", status_detail=f"twilio {status} ({who})")
    if not dial:
        return changes  # the parent leg says nothing about the conversation with the customer
    if status != "completed":
        changes["outcome"] = CALL_FAILURES[status]
        return changes
    seconds = duration or 0
    changes.update(outcome="connected", duration_s=seconds, ended_at=utcnow())
    if seconds >= min_s:
        changes["verification"] = "verified"
    else:
        changes["status_detail"] = f"connected {seconds} s; verified calls need {min_s} s"
    return changes


async def text_received(org_id: uuid.UUID, params: Mapping[str, str]) -> dict:
    """An inbound text as the provider posts it (``From``, ``To``, ``Body``, ``MessageSid``)."""
    sender = normalize_phone(params.get("From"), field="From")
    if not sender or not params.get("MessageSid"):
        raise Invalid("an inbound text needs From and MessageSid", code="invalid_webhook")
    msg = Inbound(channel="text", sender=sender, recipient=params.get("To"), body=params.get("Body"),
                  provider="twilio", ref=params["MessageSid"], occurred_at=utcnow())
    return await receive(org_id, msg)


async def _inbound_call(org_id: uuid.UUID, min_s: int, params: Mapping[str, str]) -> str:
    """A call to the org's number, once it ended: logged like an inbound text."""
    status, sid = params.get("CallStatus") or "", params.get("CallSid") or ""
    if status not in INBOUND_CALL_ENDS or not sid:
        return "ignored"
    duration = _int(params.get("CallDuration")) or 0
    now = utcnow()
    msg = Inbound(channel="call", sender=normalize_phone(params.get("From"), field="From") or "",
                  recipient=params.get("To"), occurred_at=now - timedelta(seconds=duration),
                  provider="twilio", ref=sid, outcome="connected" if duration > 0 else "no_answer",
                  duration_s=duration, verification="verified" if 0 < duration and duration >= min_s else None)
    if not msg.sender:
        return "ignored"
    return (await receive(org_id, msg))["outcome"]
