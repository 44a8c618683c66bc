"""Deterministic UUIDv7-shaped ids for demo rows.

Real ids (``server.db.ids.new_id``) take their random bits from the OS, so two
demo runs would differ. Demo ids keep the UUIDv7 layout (48-bit Unix
milliseconds, version 7, RFC 4122 variant) so they still sort by creation time
like every other id, but take the 74 random bits from a seeded RNG: the same
seed and the same timestamps give the same ids.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)
_RAND_B_MASK = (1 << 62) - 1


def derived_rng(seed: int, *names: str) -> random.Random:
    """An independent RNG per generation step.

    Steps that each own an RNG stay stable when another step changes how many
    numbers it draws. String seeds go through SHA-512, so this does not depend
    on ``PYTHONHASHSEED``.
    """
    return random.Random("/".join((str(seed), *names)))


class DeterministicIds:
    def __init__(self, rng: random.Random) -> None:
        self._bits = rng.getrandbits

    def uuid7(self, at: datetime) -> uuid.UUID:
        ms = (at - _EPOCH) // _MS  # integer arithmetic: no float rounding
        rand = self._bits(74)
        value = (
            (ms & 0xFFFF_FFFF_FFFF) << 80
            | 0x7 << 76
            | (rand >> 62) << 64  # rand_a: 12 bits
            | 0b10 << 62  # variant
            | rand & _RAND_B_MASK  # rand_b: 62 bits
        )
        return uuid.UUID(int=value)
