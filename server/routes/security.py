"""Authentication: every route needs a bearer token unless listed as public here."""

from __future__ import annotations

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from server.access.principal import Principal
from server.access.scope import Scope
from server.auth.service import AuthService
from server.common.errors import Unauthorized

#: The only routes reachable without a token.
PUBLIC_PATHS = [
    "^/api/v1/auth/login$",
    "^/api/v1/auth/refresh$",
    "^/health/",
    "^/schema",
    "^/api/v1/webhooks/",
]


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("missing bearer token", code="token_missing")
        service: AuthService = connection.app.state.auth
        principal = await service.authenticate(token.strip())
        return AuthenticationResult(user=principal, auth=token)


async def provide_principal(request: Request) -> Principal:
    return request.user


async def provide_scope(request: Request) -> Scope:
    return await Scope.build(request.user)


async def provide_auth_service(request: Request) -> AuthService:
    return request.app.state.auth
