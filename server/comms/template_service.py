"""Message templates: an org's ready-made emails and texts, written by managers and admins.

Every member of the org reads the templates (``Scope.templates()``) and phones
receive them through sync (read-only there: ``server_wins``). Writes go through
``server.common.records`` so each change gets a version and reaches phones on
their next pull. Placeholders are checked on save (``server.comms.templates``),
so a phone never receives a template it cannot fill. The wire types live here
because the service takes and the route returns them, and this feature has no
other module to hold them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from server.access.scope import Scope
from server.accounts.tables import Account, Contact
from server.common.errors import Forbidden, Invalid, NotFound
from server.common.records import (
    get_visible,
    insert_record,
    list_page,
    tombstone,
    update_record,
)
from server.common.schemas import Page, patch_fields
from server.comms import templates as text
from server.comms.tables import MessageTemplate
from server.orgs.tables import Organisation
from server.users.tables import User

SORTS = {"name": "name", "-updated_at": "updated_at", "-created_at": "created_at"}

TemplateName = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
Subject = Annotated[str, msgspec.Meta(max_length=200)]
Body = Annotated[str, msgspec.Meta(min_length=1, max_length=20_000)]
Channel = Literal["email", "text"]


class MessageTemplateIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A new template. Placeholders: ``{{account.name}}``, ``{{contact.first_name|there}}``, ...

    Known: account.name, account.city, account.phone, account.email,
    account.address_line, account.postal_code, contact.first_name,
    contact.last_name, contact.title, contact.email, rep.full_name, rep.phone,
    rep.email, org.name (422 ``unknown_placeholder`` otherwise; stray braces:
    422 ``malformed_template``).
    """

    id: uuid.UUID | None = None
    name: TemplateName
    channel: Channel
    #: Emails only, one line; a text with a subject is refused (422).
    subject: Subject | None = None
    #: A text is at most 1,600 characters.
    body: Body
    active: bool = True


class MessageTemplatePatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Only the fields present change; ``null`` clears the subject."""

    name: TemplateName | UnsetType = UNSET
    channel: Channel | UnsetType = UNSET
    subject: Subject | None | UnsetType = UNSET
    body: Body | UnsetType = UNSET
    active: bool | UnsetType = UNSET


class MessageTemplateOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    channel: str
    subject: str | None
    body: str
    active: bool
    created_by_id: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime


class MessageTemplatePage(Page[MessageTemplateOut]):
    """One keyset page; a named type so the phone's generated code gets a stable name."""


class TemplateRenderIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The records to fill the template from; both must be visible to the caller."""

    account_id: uuid.UUID
    contact_id: uuid.UUID | None = None


class RenderedMessage(msgspec.Struct):
    #: Emails only (null for texts).
    subject: str | None
    body: str


def template_out(row: dict) -> MessageTemplateOut:
    return MessageTemplateOut(**{f: row[f] for f in MessageTemplateOut.__struct_fields__})


def _require_writer(scope: Scope) -> None:
    if not (scope.principal.is_admin or scope.principal.is_manager):
        raise Forbidden("only managers and admins edit message templates")


def _checked(channel: str, subject: str | None, body: str) -> None:
    """Domain errors for a template that may not be saved."""
    try:
        text.check_template(text.Template(channel, subject, body))
    except text.TemplateError as exc:
        raise Invalid(str(exc), code=exc.code, field=exc.field) from None


async def create_template(scope: Scope, data: MessageTemplateIn) -> dict:
    _require_writer(scope)
    _checked(data.channel, data.subject, data.body)
    values = msgspec.structs.asdict(data)
    values.pop("id")
    values["created_by_id"] = scope.principal.user_id
    return await insert_record(MessageTemplate, scope.org_id, values, record_id=data.id)


async def get_template(scope: Scope, template_id: uuid.UUID) -> dict:
    return await get_visible(MessageTemplate, scope.templates(), template_id, "message template")


async def update_template(scope: Scope, template_id: uuid.UUID, patch: MessageTemplatePatch,
                          expected_version: int | None = None) -> dict:
    row = await get_template(scope, template_id)
    _require_writer(scope)
    fields = patch_fields(patch)
    merged = {**row, **fields}
    _checked(merged["channel"], merged["subject"], merged["body"])
    return await update_record(MessageTemplate, row, fields, expected_version)


async def delete_template(scope: Scope, template_id: uuid.UUID) -> None:
    row = await get_template(scope, template_id)
    _require_writer(scope)
    await tombstone(MessageTemplate, row)


async def list_templates(scope: Scope, *, channel: str | None = None, active: bool | None = None,
                         sort: str = "name", limit: int | None = None, cursor: str | None = None):
    cond = scope.templates()
    if channel is not None:
        cond = cond & (MessageTemplate.channel == channel)
    if active is not None:
        cond = cond & (MessageTemplate.active == active)
    return await list_page(MessageTemplate, cond, sorts=SORTS, sort=sort, limit=limit, cursor=cursor)


def _values(row: dict | None, columns: dict[str, str]) -> dict[str, str | None]:
    """Placeholder field -> value from a row (``columns``: field -> column)."""
    return {} if row is None else {field: row.get(column) for field, column in columns.items()}


async def render_template(scope: Scope, template_id: uuid.UUID, data: TemplateRenderIn) -> RenderedMessage:
    """The template filled from an account (and contact) the caller sees, as the caller.

    Records outside the caller's scope answer 404 like missing ones. A contact
    at another account than the one named is refused (422 ``contact_not_at_account``).
    """
    row = await get_template(scope, template_id)
    account = await get_visible(Account, scope.accounts(), data.account_id, "account")
    contact = None
    if data.contact_id is not None:
        contact = await get_visible(Contact, scope.contacts(), data.contact_id, "contact")
        if contact["account_id"] is not None and contact["account_id"] != account["id"]:
            raise Invalid("the contact is at another account", field="contact_id",
                          code="contact_not_at_account")
    rep = await User.select(User.full_name, User.phone_e164, User.email).where(
        User.id == scope.principal.user_id).first()
    org = await Organisation.select(Organisation.name).where(Organisation.id == scope.org_id).first()
    if rep is None or org is None:  # the caller's own rows: only missing mid-deletion
        raise NotFound("caller not found")
    context = {
        "account": _values(account, {"name": "name", "city": "city", "phone": "phone_e164",
                                     "email": "email", "address_line": "address_line",
                                     "postal_code": "postal_code"}),
        "contact": _values(contact, {f: f for f in text.FIELDS["contact"]}),
        "rep": _values(rep, {"full_name": "full_name", "phone": "phone_e164", "email": "email"}),
        "org": _values(org, {"name": "name"}),
    }
    try:
        subject, body = text.render(text.Template(row["channel"], row["subject"], row["body"]), context)
    except text.TemplateError as exc:
        raise Invalid(str(exc), code=exc.code, field=exc.field) from None
    return RenderedMessage(subject=subject, body=body)
