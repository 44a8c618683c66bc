"""Access tokens (short-lived JWTs) and opaque refresh tokens. Pure functions."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

import jwt
import msgspec

ALGORITHM = "HS256"
ISSUER = "fieldsales"


class AccessClaims(msgspec.Struct, frozen=True):
    user_id: uuid.UUID
    org_id: uuid.UUID
    role: str
    session_id: uuid.UUID
    device_id: uuid.UUID | None
    expires_at: int


class InvalidToken(Exception):
    pass


def encode_access(claims: AccessClaims, secret: str, now: datetime) -> str:
    payload = {
        "iss": ISSUER,
        "sub": str(claims.user_id),
        "org": str(claims.org_id),
        "role": claims.role,
        "sid": str(claims.session_id),
        "iat": int(now.timestamp()),
        "exp": claims.expires_at,
    }
    if claims.device_id:
        payload["did"] = str(claims.device_id)
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def decode_access(token: str, secret: str) -> AccessClaims:
    try:
        p = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
            options={"require": ["exp", "sub", "org", "sid", "role"]},
        )
        return AccessClaims(
            user_id=uuid.UUID(p["sub"]),
            org_id=uuid.UUID(p["org"]),
            role=p["role"],
            session_id=uuid.UUID(p["sid"]),
            device_id=uuid.UUID(p["did"]) if p.get("did") else None,
            expires_at=int(p["exp"]),
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token_expired") from None
    except (jwt.InvalidTokenError, ValueError, KeyError):
        raise InvalidToken("token_invalid") from None


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """Only the hash is stored, so a database leak yields no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()
