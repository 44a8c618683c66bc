from __future__ import annotations

import uuid

from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from server.access.principal import Principal
from server.access.scope import Scope
from server.auth.schemas import DeviceOut, LoginIn, PushTokenIn, RefreshIn, TokensOut
from server.auth.service import AuthService, DeviceInfo, IssuedTokens, RefreshReuse
from server.db.tx import unit_of_work
from server.routes.security import provide_auth_service
from server.users.schemas import UserOut, user_out
from server.users.service import get_user


def _tokens_out(issued: IssuedTokens) -> TokensOut:
    return TokensOut(access_token=issued.access_token, refresh_token=issued.refresh_token,
                     token_type="Bearer", expires_in=issued.expires_in,
                     user=user_out(issued.user), device_id=issued.device_id)


def device_out(row: dict) -> DeviceOut:
    return DeviceOut(id=row["id"], user_id=row["user_id"], name=row["name"],
                     platform=row["platform"], app_version=row["app_version"],
                     created_at=row["created_at"], last_seen_at=row["last_seen_at"],
                     revoked_at=row["revoked_at"])


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]
    dependencies = {"auth": Provide(provide_auth_service)}

    @post("/login", operation_id="auth_login", status_code=200)
    async def login(self, request: Request, data: JSONBody[LoginIn],
                    auth: NamedDependency[AuthService]) -> TokensOut:
        """Exchange email and password for tokens; a phone registers itself with `device_id`."""
        device = DeviceInfo(id=data.device_id, name=data.device_name, platform=data.platform,
                            app_version=data.app_version) if data.device_id else None
        client = request.client.host if request.client else "unknown"
        async with unit_of_work():
            issued = await auth.login(data.email, data.password, client, device)
        return _tokens_out(issued)

    @post("/refresh", operation_id="auth_refresh", status_code=200)
    async def refresh(self, data: JSONBody[RefreshIn], auth: NamedDependency[AuthService]) -> TokensOut:
        """Spend a refresh token for a new pair. Reusing a spent one ends the session."""
        reuse: RefreshReuse | None = None
        async with unit_of_work():
            try:
                issued = await auth.refresh(data.refresh_token)
            except RefreshReuse as exc:
                reuse = exc  # commit the revocation, then fail
        if reuse:
            raise reuse
        return _tokens_out(issued)

    @post("/logout", operation_id="auth_logout", status_code=HTTP_204_NO_CONTENT)
    async def logout(self, principal: NamedDependency[Principal], auth: NamedDependency[AuthService]) -> None:
        """End this session: its refresh and access tokens stop working."""
        async with unit_of_work():
            await auth.logout(principal)


class MeController(Controller):
    path = "/api/v1"
    tags = ["auth"]
    dependencies = {"auth": Provide(provide_auth_service)}

    @get("/me", operation_id="me_get")
    async def me(self, principal: NamedDependency[Principal]) -> UserOut:
        return user_out(await get_user(principal.org_id, principal.user_id))

    @put("/me/push-token", operation_id="me_set_push_token", status_code=HTTP_204_NO_CONTENT)
    async def set_push_token(self, data: JSONBody[PushTokenIn], principal: NamedDependency[Principal],
                             auth: NamedDependency[AuthService]) -> None:
        """Store this device's FCM or APNs token for push notifications."""
        async with unit_of_work():
            await auth.set_push_token(principal, data.provider, data.token)

    @get("/users/{user_id:uuid}/devices", operation_id="devices_list")
    async def list_devices(self, user_id: FromPath[uuid.UUID], access: NamedDependency[Scope],
                           auth: NamedDependency[AuthService]) -> list[DeviceOut]:
        """A user's phones; visible to the user, their managers and admins."""
        return [device_out(r) for r in await auth.list_devices(access, user_id)]

    @post("/devices/{device_id:uuid}/revoke", operation_id="devices_revoke", status_code=200)
    async def revoke_device(self, device_id: FromPath[uuid.UUID], access: NamedDependency[Scope],
                            auth: NamedDependency[AuthService]) -> DeviceOut:
        """Revoke a phone: its tokens stop working at once."""
        async with unit_of_work():
            row = await auth.revoke_device(access, device_id)
        return device_out(row)
