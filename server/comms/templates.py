"""Message templates as text: find, check and fill ``{{placeholders}}`` (pure functions).

Syntax: ``{{namespace.field}}``, optionally with a default after a bar,
``{{contact.first_name|there}}``; spaces inside the braces are ignored. Only
the fields in :data:`FIELDS` exist, so a typo is refused when the template is
saved instead of reaching a customer as an empty gap:

============  ================================================================
``account``   ``name``, ``city``, ``phone``, ``email``, ``address_line``, ``postal_code``
``contact``   ``first_name``, ``last_name``, ``title``, ``email``
``rep``       ``full_name``, ``phone``, ``email`` (the person sending)
``org``       ``name``
============  ================================================================

A default may hold any text except braces and line breaks. Single braces are
ordinary text; a ``{{`` or ``}}`` that is not part of a placeholder is
malformed. Filling is one pass over the template, so a value that itself
contains ``{{...}}`` (a contact named ``{{rep.email}}``) is copied literally,
never expanded again. The phone renders offline with the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

#: The placeholders a template may use: namespace -> fields.
FIELDS: dict[str, tuple[str, ...]] = {
    "account": ("name", "city", "phone", "email", "address_line", "postal_code"),
    "contact": ("first_name", "last_name", "title", "email"),
    "rep": ("full_name", "phone", "email"),
    "org": ("name",),
}
KNOWN = frozenset(f"{ns}.{field}" for ns, fields in FIELDS.items() for field in fields)

CHANNELS = ("email", "text")
#: A text is at most this long once filled (ten concatenated SMS segments, Twilio's limit).
TEXT_MAX_CHARS = 1600

#: ``{{`` + anything without braces + ``}}``: a candidate placeholder.
_TOKEN = re.compile(r"\{\{([^{}]*)\}\}")
#: The inside of a placeholder: a dotted name, then optionally ``|default``.
_INNER = re.compile(r"\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*(?:\|([^\r\n]*))?")
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")

#: namespace -> field -> value (``None`` or absent: use the default).
Context = Mapping[str, Mapping[str, str | None]]


class TemplateError(ValueError):
    """A template that cannot be saved or filled; ``code`` is the API's error code."""

    code = "invalid_template"
    field: str | None = None

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class MalformedTemplate(TemplateError):
    code = "malformed_template"


class UnknownPlaceholder(TemplateError):
    code = "unknown_placeholder"

    def __init__(self, names: set[str], field: str | None = None) -> None:
        self.names = names
        super().__init__(f"unknown placeholder{'s' if len(names) > 1 else ''}: "
                         + ", ".join("{{" + n + "}}" for n in sorted(names))
                         + f"; known: {', '.join(sorted(KNOWN))}", field)


class MessageTooLong(TemplateError):
    code = "message_too_long"


class Placeholder(NamedTuple):
    name: str  # "contact.first_name"
    default: str | None


class Template(NamedTuple):
    channel: str  # email | text
    subject: str | None
    body: str


class Rendered(NamedTuple):
    subject: str | None
    body: str


def _parse(text: str) -> list[tuple[re.Match[str], Placeholder]]:
    """Every placeholder of ``text`` with its match; ``MalformedTemplate`` on stray braces."""
    found: list[tuple[re.Match[str], Placeholder]] = []
    rest: list[str] = []
    start = 0
    for m in _TOKEN.finditer(text):
        inner = _INNER.fullmatch(m.group(1))
        if inner is None:
            raise MalformedTemplate(f"malformed placeholder {m.group(0)!r} at character {m.start()}")
        default = inner.group(2)
        found.append((m, Placeholder(inner.group(1), None if default is None else default.strip())))
        rest.append(text[start:m.start()])
        start = m.end()
    rest.append(text[start:])
    for piece in rest:
        for stray in ("{{", "}}"):
            if stray in piece:
                raise MalformedTemplate(f"unmatched {stray!r}: placeholders look like "
                                        "{{contact.first_name}} or {{contact.first_name|there}}")
    return found


def placeholders(text: str) -> set[str]:
    """The placeholder names ``text`` uses (``{"contact.first_name", ...}``), known or not."""
    return {p.name for _, p in _parse(text)}


def check(text: str, field: str | None = None) -> set[str]:
    """The placeholders of ``text``; raises ``MalformedTemplate`` or ``UnknownPlaceholder``."""
    try:
        names = placeholders(text)
    except MalformedTemplate as exc:
        exc.field = field
        raise
    unknown = names - KNOWN
    if unknown:
        raise UnknownPlaceholder(unknown, field)
    return names


def check_template(template: Template) -> None:
    """Everything a template needs before it is saved (the service maps errors to 422)."""
    if template.channel not in CHANNELS:
        raise TemplateError(f"channel must be one of {', '.join(CHANNELS)}", "channel")
    if template.channel == "text" and template.subject is not None:
        raise TemplateError("a text has no subject", "subject")
    if template.subject is not None:
        if "\r" in template.subject or "\n" in template.subject:
            raise TemplateError("an email subject is a single line", "subject")
        check(template.subject, "subject")
    check(template.body, "body")
    if template.channel == "text" and len(_literal(template.body)) > TEXT_MAX_CHARS:
        # Placeholders may fill with less than they take up, so only the fixed text
        # is held to the limit here; render() checks the filled message.
        raise MessageTooLong(f"a text is at most {TEXT_MAX_CHARS} characters", "body")


def _literal(text: str) -> str:
    """``text`` without its placeholders: what every filled message contains."""
    return _TOKEN.sub("", text)


def fill(text: str, context: Context) -> str:
    """``text`` with each placeholder replaced by its value, else its default, else ``""``."""
    out: list[str] = []
    start = 0
    for m, p in _parse(text):
        ns, _, name = p.name.partition(".")
        value = (context.get(ns) or {}).get(name)
        out.append(text[start:m.start()])
        out.append(value if value not in (None, "") else (p.default or ""))
        start = m.end()
    out.append(text[start:])
    return "".join(out)


def render(template: Template, context: Context) -> Rendered:
    """The message to send: subject (emails; one line) and body, filled from ``context``.

    Raises ``TemplateError`` when the template is not valid, or ``MessageTooLong``
    when a filled text exceeds :data:`TEXT_MAX_CHARS`.
    """
    check_template(template)
    subject = None
    if template.subject is not None:
        subject = _LINE_BREAKS.sub(" ", fill(template.subject, context)).strip()
    body = fill(template.body, context)
    if template.channel == "text" and len(body) > TEXT_MAX_CHARS:
        raise MessageTooLong(f"the filled text is {len(body)} characters; at most {TEXT_MAX_CHARS}",
                             "body")
    return Rendered(subject, body)
