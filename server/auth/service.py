"""Login, token rotation, logout, per-request authentication and devices.

A login opens an :class:`AuthSession` (one refresh-token family). Each refresh
spends the presented token and issues a new one; presenting a spent token again
means it was stolen or replayed, so the whole family is revoked. Access tokens
name their session and device, and every request checks both are still live,
so revoking a device or logging out takes effect at once.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import msgspec
from piccolo.querystring import QueryString

from server.access.principal import Principal
from server.access.scope import Scope
from server.auth import tokens
from server.auth.passwords import DUMMY_HASH, verify_password
from server.auth.ratelimit import SlidingWindowLimiter
from server.auth.tables import AuthSession, Device, RefreshToken
from server.common.errors import (
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from server.common.time import utcnow
from server.config import Settings
from server.db.engine import read_values
from server.db.ids import new_id
from server.sync.events import reset_after_commit
from server.users.tables import User


class DeviceInfo(msgspec.Struct):
    id: uuid.UUID
    name: str = ""
    platform: str | None = None
    app_version: str | None = None


class IssuedTokens(msgspec.Struct):
    access_token: str
    refresh_token: str
    expires_in: int
    user: dict
    device_id: uuid.UUID | None


SESSION_CHECK_SQL = (
    "SELECT s.revoked_at, u.active, u.deleted_at, u.role, d.revoked_at "
    "FROM auth_sessions s JOIN users u ON u.id = s.user_id "
    "LEFT JOIN devices d ON d.id = s.device_id "
    "WHERE s.id = {} AND s.user_id = {}"
)


class AuthService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.login_limiter = SlidingWindowLimiter(settings.login_attempts_per_minute, 60.0)

    # -- login ---------------------------------------------------------------
    async def login(self, email: str, password: str, client: str,
                    device: DeviceInfo | None = None) -> IssuedTokens:
        """Check credentials and open a session. Call inside a unit of work."""
        email = email.strip().lower()
        retry = self.login_limiter.hit(f"{email}|{client}")
        if retry:
            raise TooManyRequests("too many login attempts; try again later", retry_after=retry)
        user = await User.select().where(
            (User.email == email) & User.deleted_at.is_null()
        ).first()
        # Verify against a dummy hash for unknown emails: same cost, no user enumeration.
        ok = verify_password(user["password_hash"] if user else DUMMY_HASH, password)
        if not user or not ok:
            raise Unauthorized("wrong email or password", code="invalid_credentials")
        if not user["active"]:
            raise Forbidden("this account is disabled", code="user_disabled")
        now = utcnow()
        device_id = await self._register_device(user, device) if device else None
        session_id = new_id()
        await AuthSession.insert(AuthSession(
            id=session_id, org_id=user["org_id"], user_id=user["id"], device_id=device_id,
            created_at=now, last_used_at=now,
        ))
        await User.update({User.last_login_at: now}).where(User.id == user["id"])
        return await self._issue(user, session_id, device_id)

    async def _register_device(self, user: dict, device: DeviceInfo) -> uuid.UUID:
        row = await Device.select().where(Device.id == device.id).first()
        now = utcnow()
        if row is None:
            await Device.insert(Device(
                id=device.id, org_id=user["org_id"], user_id=user["id"], name=device.name,
                platform=device.platform, app_version=device.app_version,
                created_at=now, last_seen_at=now,
            ))
            return device.id
        if row["user_id"] != user["id"]:
            # A phone's local database belongs to one user: re-install to switch users.
            raise Conflict("this device is registered to another user", code="device_conflict")
        if row["revoked_at"] is not None:
            raise Forbidden("this device has been revoked", code="device_revoked")
        await Device.update({
            Device.name: device.name or row["name"], Device.platform: device.platform,
            Device.app_version: device.app_version, Device.last_seen_at: now,
        }).where(Device.id == device.id)
        return device.id

    async def _issue(self, user: dict, session_id: uuid.UUID,
                     device_id: uuid.UUID | None) -> IssuedTokens:
        now = utcnow()
        ttl = self.settings.access_token_ttl_s
        claims = tokens.AccessClaims(
            user_id=user["id"], org_id=user["org_id"], role=user["role"],
            session_id=session_id, device_id=device_id,
            expires_at=int(now.timestamp()) + ttl,
        )
        refresh = tokens.new_refresh_token()
        await RefreshToken.insert(RefreshToken(
            id=new_id(), session_id=session_id, token_hash=tokens.hash_refresh_token(refresh),
            created_at=now, expires_at=now + timedelta(seconds=self.settings.refresh_token_ttl_s),
        ))
        return IssuedTokens(
            access_token=tokens.encode_access(claims, self.settings.secret_key, now),
            refresh_token=refresh, expires_in=ttl, user=user, device_id=device_id,
        )

    # -- refresh and logout --------------------------------------------------
    async def refresh(self, refresh_token: str) -> IssuedTokens:
        """Spend a refresh token for a new pair. Call inside a unit of work.

        Reuse of a spent token revokes the family; the caller must commit that
        revocation even though the request fails (see routes.auth).
        """
        now = utcnow()
        row = await RefreshToken.select().where(
            RefreshToken.token_hash == tokens.hash_refresh_token(refresh_token)
        ).first()
        if row is None:
            raise Unauthorized("unknown refresh token", code="token_invalid")
        session = await AuthSession.select().where(AuthSession.id == row["session_id"]).first()
        if session is None or session["revoked_at"] is not None:
            raise Unauthorized("session has ended", code="session_revoked")
        if row["used_at"] is not None:
            await self._revoke_session(session["id"], "refresh_reuse", session["org_id"])
            raise RefreshReuse("refresh token reused; the session is revoked", code="token_reused")
        if row["expires_at"] <= now:
            raise Unauthorized("refresh token expired", code="token_expired")
        user = await User.select().where(User.id == session["user_id"]).first()
        if user is None or user["deleted_at"] is not None or not user["active"]:
            raise Unauthorized("user is no longer active", code="user_disabled")
        if session["device_id"] is not None and await self._device_revoked(session["device_id"]):
            raise Unauthorized("device revoked", code="device_revoked")
        # Spend the token only if nobody else spent it in the meantime.
        spent = await RefreshToken.update({RefreshToken.used_at: now}).where(
            (RefreshToken.id == row["id"]) & RefreshToken.used_at.is_null()
        ).returning(RefreshToken.id)
        if not spent:
            await self._revoke_session(session["id"], "refresh_reuse", session["org_id"])
            raise RefreshReuse("refresh token reused; the session is revoked", code="token_reused")
        await AuthSession.update({AuthSession.last_used_at: now}).where(AuthSession.id == session["id"])
        return await self._issue(user, session["id"], session["device_id"])

    async def logout(self, principal: Principal) -> None:
        await self._revoke_session(principal.session_id, "logout", principal.org_id)

    async def _revoke_session(self, session_id: uuid.UUID, reason: str, org_id: uuid.UUID) -> None:
        await AuthSession.update({AuthSession.revoked_at: utcnow(), AuthSession.revoke_reason: reason}).where(
            (AuthSession.id == session_id) & AuthSession.revoked_at.is_null()
        )
        # The session's live-update stream ends once this commits.
        reset_after_commit(org_id, session_id=session_id,
                           reason="logged_out" if reason == "logout" else "session_revoked")

    async def _device_revoked(self, device_id: uuid.UUID) -> bool:
        row = await Device.select(Device.revoked_at).where(Device.id == device_id).first()
        return row is None or row["revoked_at"] is not None

    # -- per request ---------------------------------------------------------
    async def authenticate(self, access_token: str) -> Principal:
        try:
            claims = tokens.decode_access(access_token, self.settings.secret_key)
        except tokens.InvalidToken as exc:
            raise Unauthorized("invalid or expired access token", code=str(exc)) from None
        # One constant statement per request, a short read: building it with Piccolo's
        # joins cost about 1 ms of CPU per request (bench/list_accounts.py).
        rows = await read_values(QueryString(SESSION_CHECK_SQL, claims.session_id, claims.user_id), short=True)
        if not rows or rows[0][0] is not None:
            raise Unauthorized("session has ended", code="session_revoked")
        _, user_active, user_deleted_at, user_role, device_revoked_at = rows[0]
        if device_revoked_at is not None:
            raise Unauthorized("device revoked", code="device_revoked")
        if not user_active or user_deleted_at is not None:
            raise Unauthorized("user is no longer active", code="user_disabled")
        # The role is read live: a demotion applies at once, not at token expiry.
        return Principal(user_id=claims.user_id, org_id=claims.org_id, role=user_role,
                         session_id=claims.session_id, device_id=claims.device_id)

    # -- devices -------------------------------------------------------------
    async def list_devices(self, scope: Scope, user_id: uuid.UUID) -> list[dict]:
        self._check_device_owner(scope, user_id)
        return await Device.select().where(
            (Device.org_id == scope.org_id) & (Device.user_id == user_id)
        ).order_by(Device.created_at)

    async def revoke_device(self, scope: Scope, device_id: uuid.UUID) -> dict:
        """Revoke a device: its sessions end and its tokens stop working at once."""
        row = await Device.select().where(
            (Device.id == device_id) & (Device.org_id == scope.org_id)
        ).first()
        if row is None or not self._may_manage_devices_of(scope, row["user_id"]):
            raise NotFound("device not found")
        now = utcnow()
        if row["revoked_at"] is None:
            await Device.update({Device.revoked_at: now, Device.revoked_by_id: scope.principal.user_id,
                                 Device.push_token: None}).where(Device.id == device_id)
            await AuthSession.update({AuthSession.revoked_at: now,
                                      AuthSession.revoke_reason: "device_revoked"}).where(
                (AuthSession.device_id == device_id) & AuthSession.revoked_at.is_null()
            )
            reset_after_commit(scope.org_id, device_id=device_id, reason="device_revoked")
        return await Device.select().where(Device.id == device_id).first()

    async def set_push_token(self, principal: Principal, provider: str, token: str) -> None:
        if principal.device_id is None:
            raise Conflict("this session has no registered device", code="no_device")
        await Device.update({Device.push_provider: provider, Device.push_token: token}).where(
            Device.id == principal.device_id
        )

    @staticmethod
    def _may_manage_devices_of(scope: Scope, user_id: uuid.UUID) -> bool:
        # The user themself, their managers up the chain, or an admin.
        p = scope.principal
        if p.is_admin or user_id == p.user_id:
            return True
        return p.is_manager and scope.members is not None and user_id in scope.members

    def _check_device_owner(self, scope: Scope, user_id: uuid.UUID) -> None:
        if not self._may_manage_devices_of(scope, user_id):
            raise NotFound("user not found")


class RefreshReuse(Unauthorized):
    """Raised after the family was revoked; the revocation must still be committed."""
