"""Our webhook signatures agree with the ``twilio`` package's own validator.

Whatever URL and form the provider signs, we compute the signature it
computes and accept it, under HMAC-SHA1 and HMAC-SHA256, with or without the
default port; a raw body is bound through ``bodySHA256``; anything changed,
missing or unknown is refused.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from server.comms import signatures

TOKEN = "12345678901234567890123456789012"
URL = "https://fieldsales.example.com/api/v1/webhooks/twilio/status?org=o1"
FORM = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", "To": "+14155550123", "ErrorCode": ""}
SHA256 = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"


class MultiDict(dict):
    """A form with repeated names, read the way twilio reads Flask's MultiDict."""

    def getall(self, name: str) -> list[str]:
        value = self[name]
        return [value] if isinstance(value, str) else list(value)


def twilio_sign(token: str, url: str, params=None, algorithm: str = "HMAC_SHA1") -> str:
    return RequestValidator(token).compute_signature(url, MultiDict(params or {}), algorithm)


# -- generated requests ------------------------------------------------------------------------

unicode_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
url_safe = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~", min_size=1, max_size=12)
hosts = st.builds(lambda labels, tld: ".".join([*labels, tld]),
                  st.lists(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True),
                           min_size=1, max_size=3),
                  st.sampled_from(["com", "io", "example"]))
ports = st.one_of(st.none(), st.sampled_from([80, 443, 8000, 8443]), st.integers(1, 65535))
queries = st.lists(st.tuples(url_safe, st.one_of(st.just(""), unicode_text)), max_size=4).map(urlencode)


@st.composite
def urls(draw) -> str:
    scheme = draw(st.sampled_from(["http", "https"]))
    port = draw(ports)
    netloc = draw(hosts) + ("" if port is None else f":{port}")
    path = "/" + "/".join(draw(st.lists(url_safe, max_size=4)))
    query = draw(queries)
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


values = st.one_of(unicode_text, st.lists(unicode_text, min_size=1, max_size=4))
forms = st.dictionaries(st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=15),
                        values, max_size=6)
single_valued_forms = st.dictionaries(url_safe, unicode_text, max_size=6)
algorithms = st.sampled_from(["HMAC_SHA1", "HMAC_SHA256"])


def settings_for(algorithm: str) -> str | None:
    return SHA256 if algorithm == "HMAC_SHA256" else None


@settings(max_examples=100, deadline=None)
@given(url=urls(), params=forms, algorithm=algorithms, token=unicode_text.filter(bool))
def test_we_sign_as_twilio_signs(url, params, algorithm, token):
    ours = signatures.sign(token, url, params, algorithm)

    assert ours == twilio_sign(token, url, params, algorithm)
    assert signatures.verify(token, url, ours, params=params, settings_header=settings_for(algorithm))


@settings(max_examples=100, deadline=None)
@given(url=urls(), params=single_valued_forms, algorithm=algorithms)
def test_we_accept_what_twilio_accepts(url, params, algorithm):
    """A plain dict, as most frameworks hand the form over, through twilio's whole validate()."""
    validator = RequestValidator(TOKEN)
    signature = validator.compute_signature(url, params, algorithm)

    assert validator.validate(url, params, signature, algorithm)
    assert signatures.verify(TOKEN, url, signature, params=params, settings_header=settings_for(algorithm))


@settings(max_examples=100, deadline=None)
@given(url=urls(), params=forms.filter(bool), algorithm=algorithms, data=st.data())
def test_a_changed_param_is_refused(url, params, algorithm, data):
    signature = twilio_sign(TOKEN, url, params, algorithm)
    name = data.draw(st.sampled_from(sorted(params)))
    changed = dict(params)
    change = data.draw(st.sampled_from(["value", "remove", "add"]))
    if change == "value":
        old = changed[name]
        changed[name] = (old + "x") if isinstance(old, str) else [*old, "\x00new"]
    elif change == "remove":
        del changed[name]
    else:
        changed[name + "\x00"] = "added"

    assert not signatures.verify(TOKEN, url, signature, params=changed,
                                 settings_header=settings_for(algorithm))


# -- fixed cases ---------------------------------------------------------------------------------


def test_repeated_names_are_signed_with_their_values_sorted():
    params = {"b": "2", "StatusCallbackEvent": ["ringing", "answered", "initiated", "ringing"], "a": ""}
    pairs = [("StatusCallbackEvent", "answered"), ("StatusCallbackEvent", "initiated"),
             ("StatusCallbackEvent", "ringing"), ("a", ""), ("b", "2")]
    expected = URL + "".join(name + value for name, value in pairs)

    assert signatures.signing_string(URL, params) == expected
    assert signatures.sign(TOKEN, URL, params) == twilio_sign(TOKEN, URL, params)


@pytest.mark.parametrize("algorithm", ["HMAC_SHA1", "HMAC_SHA256"])
@pytest.mark.parametrize(("signed", "requested"), [
    ("https://h.example.com:443/hook?x=1", "https://h.example.com/hook?x=1"),
    ("https://h.example.com/hook?x=1", "https://h.example.com:443/hook?x=1"),
    ("http://h.example.com:80/hook", "http://h.example.com/hook"),
    ("http://h.example.com/hook", "http://h.example.com:80/hook"),
])
def test_the_default_port_may_be_added_or_left_out(signed, requested, algorithm):
    signature = twilio_sign(TOKEN, signed, FORM, algorithm)

    assert signatures.verify(TOKEN, requested, signature, params=FORM, settings_header=settings_for(algorithm))


def test_another_port_is_another_url():
    signature = twilio_sign(TOKEN, "https://h.example.com:8443/hook", FORM)

    assert not signatures.verify(TOKEN, "https://h.example.com/hook", signature, params=FORM)


def test_the_algorithm_is_the_one_the_settings_header_names():
    sha1 = twilio_sign(TOKEN, URL, FORM)
    sha256 = twilio_sign(TOKEN, URL, FORM, "HMAC_SHA256")

    assert signatures.algorithm_of(None) == "HMAC_SHA1"
    assert signatures.algorithm_of(" key=k , algorithm=hmac_sha256 ") == "HMAC_SHA256"
    assert signatures.verify(TOKEN, URL, sha256, params=FORM, settings_header="key=k,algorithm=HMAC_SHA256")
    assert not signatures.verify(TOKEN, URL, sha1, params=FORM, settings_header="key=k,algorithm=HMAC_SHA256")
    assert not signatures.verify(TOKEN, URL, sha256, params=FORM)


class TestRawBodies:
    """A JSON or MIME body is signed through the URL, which carries the body's SHA-256."""

    body = b'{"event": "inbound", "text": "caf\xc3\xa9 & co"}'

    def url_for(self, body: bytes, base: str = URL) -> str:
        return f"{base}&bodySHA256={hashlib.sha256(body).hexdigest()}"

    @pytest.mark.parametrize("algorithm", ["HMAC_SHA1", "HMAC_SHA256"])
    def test_a_signed_body_is_accepted(self, algorithm):
        url = self.url_for(self.body)
        signature = twilio_sign(TOKEN, url, None, algorithm)

        assert RequestValidator(TOKEN).validate(url, self.body.decode(), signature, algorithm)
        assert signatures.verify(TOKEN, url, signature, body=self.body, settings_header=settings_for(algorithm))

    def test_a_changed_body_is_refused(self):
        url = self.url_for(self.body)
        signature = twilio_sign(TOKEN, url)

        assert not signatures.verify(TOKEN, url, signature, body=self.body + b" ")
        assert not signatures.verify(TOKEN, url, signature, body=b"")

    def test_a_changed_url_is_refused(self):
        url = self.url_for(self.body)
        signature = twilio_sign(TOKEN, url)
        moved = self.url_for(self.body, URL.replace("org=o1", "org=o2"))

        assert not signatures.verify(TOKEN, moved, signature, body=self.body)

    def test_a_wrong_hash_is_refused_even_when_signed(self):
        """The URL is genuinely signed, but it vouches for another body."""
        url = self.url_for(b"another body")
        signature = twilio_sign(TOKEN, url)

        assert signatures.verify(TOKEN, url, signature, body=b"another body")
        assert not signatures.verify(TOKEN, url, signature, body=self.body)

    def test_a_url_without_a_hash_vouches_for_no_body(self):
        signature = twilio_sign(TOKEN, URL)

        assert not signatures.verify(TOKEN, URL, signature, body=self.body)


@pytest.mark.parametrize("signature", [None, "", "   "])
def test_a_missing_signature_is_refused(signature):
    assert not signatures.verify(TOKEN, URL, signature, params=FORM)


def test_a_signature_under_another_token_is_refused():
    signature = twilio_sign("another-token", URL, FORM)

    assert not signatures.verify(TOKEN, URL, signature, params=FORM)


def test_an_empty_secret_verifies_nothing():
    """Even a signature made with the empty key: an unset secret must not open the webhook."""
    signature = twilio_sign("", URL, FORM)

    assert not signatures.verify("", URL, signature, params=FORM)


@pytest.mark.parametrize("settings_header", ["key=k,algorithm=HMAC_MD5", "algorithm=RSA"])
def test_an_unknown_algorithm_is_refused(settings_header):
    signature = twilio_sign(TOKEN, URL, FORM)

    assert not signatures.verify(TOKEN, URL, signature, params=FORM, settings_header=settings_header)


def test_a_signature_for_another_form_is_refused():
    signature = twilio_sign(TOKEN, URL, FORM)

    assert not signatures.verify(TOKEN, URL, signature, params=FORM | {"MessageStatus": "failed"})
    assert not signatures.verify(TOKEN, URL, signature, params=FORM | {"Extra": "1"})
    assert not signatures.verify(TOKEN, URL, signature, params={k: v for k, v in FORM.items() if k != "To"})
    assert not signatures.verify(TOKEN, URL, signature, params=None)
