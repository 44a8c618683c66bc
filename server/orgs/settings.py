"""An organisation's settings: read by every member, changed by its admins.

The caller's org is the only one reachable (``scope.org_id``): there is no org id
in the path, so another org's settings can be neither read nor guessed. The wire
types live here because this service takes and the route returns them.

The webhook URLs are the addresses the org's admin gives the SMS/call and email
providers; they are built on a base URL the route passes in (``public_url`` or
the request's own), so this module stays free of HTTP.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from server.access.scope import Scope
from server.audit.log import audit
from server.common.errors import Forbidden, Invalid, NotFound
from server.common.phones import normalize_phone
from server.common.schemas import patch_fields
from server.common.time import utcnow
from server.comms.callbacks import email_url, twilio_url
from server.orgs.service import check_timezone
from server.orgs.tables import Organisation
from server.users.service import normalize_email

OrgName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
TimeZone = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
CheckinRadius = Annotated[int, msgspec.Meta(ge=10, le=5000)]
CallVerifyMin = Annotated[int, msgspec.Meta(ge=0, le=3600)]
TombstoneDays = Annotated[int, msgspec.Meta(ge=30, le=3650)]
GraceHours = Annotated[int, msgspec.Meta(ge=0, le=720)]
SmsFrom = Annotated[str, msgspec.Meta(max_length=40)]
EmailFrom = Annotated[str, msgspec.Meta(max_length=254)]

#: ``normalize_email`` only checks for an ``@``; a From address also goes into a mail header,
#: so whitespace, control characters and header punctuation are refused too.
_ATOM = r"[^@\s<>,;:\"()\[\]\\]+"
_ADDRESS_RE = re.compile(rf"{_ATOM}@{_ATOM}")


class OrgWebhooks(msgspec.Struct):
    """Where the providers must send this org's events (configure them at the provider)."""

    #: Twilio: incoming texts ("A message comes in").
    sms: str
    #: Twilio: delivery status callbacks of texts and calls.
    status: str
    #: Twilio: incoming and connected calls ("A call comes in").
    call: str
    #: Inbound email (signed like Twilio's webhooks).
    email: str


class OrgOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    slug: str
    base_currency: str
    timezone: str
    checkin_radius_m: int
    tombstone_days: int
    call_verify_min_s: int
    contest_grace_hours: int
    sms_from: str | None
    email_from: str | None
    updated_at: datetime
    webhooks: OrgWebhooks


class OrgPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Only the fields present change; ``null`` clears ``sms_from`` / ``email_from``.

    ``slug`` and ``base_currency`` are fixed once the org exists.
    """

    name: OrgName | UnsetType = UNSET
    #: An IANA time zone such as ``Europe/Berlin`` (422 when unknown).
    timezone: TimeZone | UnsetType = UNSET
    #: Metres within which a check-in counts as at the customer, 10..5000.
    checkin_radius_m: CheckinRadius | UnsetType = UNSET
    #: Seconds a connected call must last to count as verified, 0..3600.
    call_verify_min_s: CallVerifyMin | UnsetType = UNSET
    #: The org's number for texts and calls, stored in E.164 (422 ``invalid_phone``).
    sms_from: SmsFrom | None | UnsetType = UNSET
    #: The From address of the org's emails (422 ``invalid_email``).
    email_from: EmailFrom | None | UnsetType = UNSET
    #: Days deleted records are remembered for sync, 30..3650.
    tombstone_days: TombstoneDays | UnsetType = UNSET
    #: Hours after a contest ends during which late-synced activity from its window still counts, 0..720.
    contest_grace_hours: GraceHours | UnsetType = UNSET


def webhook_urls(base_url: str, org_id: uuid.UUID) -> OrgWebhooks:
    return OrgWebhooks(sms=twilio_url(base_url, org_id, "sms"), status=twilio_url(base_url, org_id, "status"),
                       call=twilio_url(base_url, org_id, "call"), email=email_url(base_url, org_id))


def org_out(row: dict, base_url: str) -> OrgOut:
    fields = {f: row[f] for f in OrgOut.__struct_fields__ if f != "webhooks"}
    return OrgOut(**fields, webhooks=webhook_urls(base_url, row["id"]))


async def _org_row(org_id: uuid.UUID) -> dict:
    row = await Organisation.select().where(Organisation.id == org_id).first()
    if row is None:
        raise NotFound("organisation not found")
    return row


async def get_org(scope: Scope, base_url: str) -> OrgOut:
    """The caller's own organisation (any member)."""
    return org_out(await _org_row(scope.org_id), base_url)


def _email_from(raw: str) -> str:
    try:
        email = normalize_email(raw)
    except Invalid as exc:
        raise Invalid(exc.message, field="email_from", code="invalid_email") from None
    if not _ADDRESS_RE.fullmatch(email):
        raise Invalid(f"not an email address: {raw!r}", field="email_from", code="invalid_email")
    return email


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    """The patch's values as they will be stored; ``Invalid`` for any that may not be."""
    values = dict(fields)
    if "name" in values:
        values["name"] = values["name"].strip()
        if not values["name"]:
            raise Invalid("organisation name is required", field="name", code="name_required")
    if "timezone" in values:
        check_timezone(values["timezone"])
    if values.get("sms_from") is not None:
        values["sms_from"] = normalize_phone(values["sms_from"], field="sms_from")
    if values.get("email_from") is not None:
        values["email_from"] = _email_from(values["email_from"])
    return values


async def update_org(scope: Scope, patch: OrgPatch, base_url: str) -> OrgOut:
    """Change the caller's org settings (admins only, 403 ``admin_only``). Call inside a unit of work.

    Only values that differ are written; when any do, ``updated_at`` moves and the
    change is audited with the names of the changed fields.
    """
    if not scope.principal.is_admin:
        raise Forbidden("only admins change the organisation's settings", code="admin_only")
    values = _checked(patch_fields(patch))
    row = await _org_row(scope.org_id)
    changed = {k: v for k, v in values.items() if row[k] != v}
    if not changed:
        return org_out(row, base_url)
    columns = {getattr(Organisation, k): v for k, v in changed.items()}
    columns[Organisation.updated_at] = utcnow()
    await Organisation.update(columns).where(Organisation.id == scope.org_id)  # type: ignore[arg-type]
    await audit(scope, "organisation.updated", "organisations", scope.org_id,
                {"fields": sorted(changed),
                 "changes": {k: {"from": row[k], "to": v} for k, v in sorted(changed.items())}})
    return org_out(await _org_row(scope.org_id), base_url)
