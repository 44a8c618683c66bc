"""Password hashing with Argon2id (argon2-cffi)."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 8


@lru_cache(maxsize=4)
def _hasher(time_cost: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=19 * 1024, parallelism=1)


def hash_password(password: str, time_cost: int = 3) -> str:
    return _hasher(time_cost).hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher(3).verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


#: Verified against when the email is unknown, so a miss costs as much as a hit.
DUMMY_HASH = hash_password("not-a-real-password-0")
