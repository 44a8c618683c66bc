"""Phone numbers are stored in E.164 (``+14155550123``)."""

from __future__ import annotations

import phonenumbers

from server.common.errors import Invalid


def normalize_phone(raw: str | None, region: str = "US", field: str = "phone") -> str | None:
    """Return ``raw`` in E.164, ``None`` for empty input; ``Invalid`` if it is no phone number."""
    if raw is None or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise Invalid(f"not a phone number: {raw!r}", field=field, code="invalid_phone") from None
    if not phonenumbers.is_possible_number(number):
        raise Invalid(f"not a possible phone number: {raw!r}", field=field, code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
