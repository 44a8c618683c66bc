"""Placeholders in message templates: parsing, checking and filling (pure, with properties)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.comms.templates import (
    FIELDS,
    KNOWN,
    TEXT_MAX_CHARS,
    MalformedTemplate,
    MessageTooLong,
    Template,
    TemplateError,
    UnknownPlaceholder,
    check,
    placeholders,
    render,
)

CONTEXT = {
    "account": {"name": "Lee Bakery", "city": "Brooklyn", "phone": None},
    "contact": {"first_name": "Ann", "last_name": "Lee"},
    "rep": {"full_name": "Sam Rep", "email": "sam@example.com"},
    "org": {"name": "Acme Foods"},
}


def email(body: str, subject: str | None = "Hello") -> Template:
    return Template("email", subject, body)


def test_placeholders_are_found_with_spaces_and_defaults():
    text = "Hi {{ contact.first_name | there }}, {{account.name}} and {{rep.full_name}}."
    assert placeholders(text) == {"contact.first_name", "account.name", "rep.full_name"}
    assert placeholders("no placeholders, {single} braces") == set()


def test_render_fills_values_defaults_and_empties():
    subject, body = render(
        email("Hi {{contact.first_name|there}} at {{account.name}} ({{account.phone|no phone}}),"
              " {{contact.title}}-{{org.name}}", subject="{{org.name}} for {{account.city}}"),
        CONTEXT)
    assert subject == "Acme Foods for Brooklyn"
    assert body == "Hi Ann at Lee Bakery (no phone), -Acme Foods"
    _, body = render(email("Hi {{contact.first_name|there}}!"), {**CONTEXT, "contact": {}})
    assert body == "Hi there!"
    _, body = render(email("Hi {{ contact.first_name }}!"), {})
    assert body == "Hi !"


@pytest.mark.parametrize("text, unknown", [
    ("{{account.nmae}}", {"account.nmae"}),
    ("{{name}} and {{deal.amount}}", {"name", "deal.amount"}),
    ("{{Account.Name}}", {"Account.Name"}),
])
def test_unknown_placeholders_are_named(text, unknown):
    with pytest.raises(UnknownPlaceholder) as err:
        check(text)
    assert err.value.names == unknown and err.value.code == "unknown_placeholder"
    for name in unknown:
        assert name in str(err.value)


@pytest.mark.parametrize("text", [
    "Hi {{contact.first_name", "Hi contact.first_name}}", "{{}}", "{{ account. name }}",
    "{{account.name|two\nlines}}", "{{contact first_name}}", "{{ {{account.name}} }}",
])
def test_malformed_braces_are_refused(text):
    with pytest.raises(MalformedTemplate) as err:
        check(text)
    assert err.value.code == "malformed_template"


def test_texts_have_no_subject_and_a_length_limit_after_filling():
    with pytest.raises(TemplateError) as err:
        render(Template("text", "Subject", "Hi"), CONTEXT)
    assert err.value.field == "subject"
    assert render(Template("text", None, "Hi {{contact.first_name}}"), CONTEXT) == (None, "Hi Ann")
    near_limit = Template("text", None, "x" * (TEXT_MAX_CHARS - 5) + "{{account.name}}")
    with pytest.raises(MessageTooLong):
        render(near_limit, CONTEXT)
    assert render(near_limit, {})[1] == "x" * (TEXT_MAX_CHARS - 5)


def test_email_subjects_stay_on_one_line():
    with pytest.raises(TemplateError):
        render(email("body", subject="two\nlines"), CONTEXT)
    subject, _ = render(email("body", subject="For {{account.name}}"),
                        {"account": {"name": "Lee\r\nBakery"}})
    assert subject == "For Lee Bakery"


# -- properties ---------------------------------------------------------------
# Text that never forms a brace pair on its own (single braces allowed).
plain = st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=40) | st.just("{ x }")
names = st.sampled_from(sorted(KNOWN))
values = st.none() | st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=20)
defaults = st.none() | st.text(alphabet=st.characters(blacklist_characters="{}|\r\n"), max_size=10)


@st.composite
def templates(draw) -> tuple[str, list[str]]:
    parts, used = [draw(plain)], []
    for _ in range(draw(st.integers(0, 5))):
        name, default = draw(names), draw(defaults)
        used.append(name)
        parts.append("{{" + name + ("" if default is None else "|" + default) + "}}")
        parts.append(draw(plain))
    return "".join(parts), used


@st.composite
def contexts(draw) -> dict:
    return {ns: {f: draw(values) for f in fields} for ns, fields in FIELDS.items()}


@given(templates(), contexts())
def test_render_leaves_no_placeholder_behind(template, context):
    text, used = template
    assert placeholders(text) == set(used)
    _, body = render(email(text), context)
    assert "{{" not in body and "}}" not in body


@given(plain)
def test_text_without_placeholders_renders_unchanged(text):
    assert render(email(text, subject=None), CONTEXT) == (None, text)


@given(names, st.sampled_from(sorted(KNOWN)))
def test_values_are_never_expanded_again(name, inner):
    ns, _, field = name.partition(".")
    sneaky = "{{" + inner + "}}"
    context = {n: dict.fromkeys(fs, "X") for n, fs in FIELDS.items()}
    context[ns][field] = sneaky
    _, body = render(email("<{{" + name + "}}>"), context)
    assert body == f"<{sneaky}>"
