"""Pure parts of auth: the rate limiter, tokens, password hashing."""

import uuid
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.auth import tokens
from server.auth.passwords import hash_password, verify_password
from server.auth.ratelimit import SlidingWindowLimiter


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@given(st.integers(1, 20), st.lists(st.floats(0, 5), max_size=80))
def test_never_more_than_limit_in_any_window(limit, gaps):
    clock = Clock()
    limiter = SlidingWindowLimiter(limit, 60.0, clock=clock)
    allowed = []
    for gap in gaps:
        clock.now += gap
        if limiter.hit("k") == 0:
            allowed.append(clock.now)
    for t in allowed:
        assert sum(1 for u in allowed if t - 60.0 < u <= t) <= limit


def test_retry_after_counts_down_and_keys_are_separate():
    clock = Clock()
    limiter = SlidingWindowLimiter(2, 60.0, clock=clock)
    assert limiter.hit("a") == limiter.hit("a") == 0
    assert limiter.hit("a") == 60
    assert limiter.hit("b") == 0
    clock.now = 45
    assert limiter.hit("a") == 15
    clock.now = 60.5
    assert limiter.hit("a") == 0


def test_access_token_round_trip_and_tampering():
    now = datetime.now(timezone.utc)
    claims = tokens.AccessClaims(uuid.uuid4(), uuid.uuid4(), "rep", uuid.uuid4(), uuid.uuid4(),
                                 int(now.timestamp()) + 60)
    token = tokens.encode_access(claims, "k" * 40, now)
    assert tokens.decode_access(token, "k" * 40) == claims
    with pytest.raises(tokens.InvalidToken, match="token_invalid"):
        tokens.decode_access(token, "other" * 10)
    expired = tokens.AccessClaims(*[getattr(claims, f) for f in claims.__struct_fields__[:-1]],
                                  expires_at=int(now.timestamp()) - 120)
    with pytest.raises(tokens.InvalidToken, match="token_expired"):
        tokens.decode_access(tokens.encode_access(expired, "k" * 40, now), "k" * 40)


def test_refresh_tokens_are_stored_hashed():
    t = tokens.new_refresh_token()
    assert len(t) >= 40 and tokens.hash_refresh_token(t) != t
    assert tokens.hash_refresh_token(t) == tokens.hash_refresh_token(t)


def test_passwords():
    h = hash_password("correct horse", time_cost=1)
    assert h.startswith("$argon2id$")
    assert verify_password(h, "correct horse") and not verify_password(h, "wrong")
    assert not verify_password("garbage", "x")
