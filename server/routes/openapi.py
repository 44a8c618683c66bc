"""The OpenAPI document: bearer auth and the Problem Details every route can answer."""

from __future__ import annotations

import re

import msgspec
from litestar import Litestar
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from server.routes.docs import OFFLINE_SWAGGER
from server.routes.security import PUBLIC_PATHS


class FieldError(msgspec.Struct):
    field: str | None
    source: str | None
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 Problem Details; branch on ``code``, show ``detail``."""

    type: str
    title: str
    status: int
    code: str
    detail: str
    instance: str
    request_id: str | None = None
    #: The input that failed (422), or the one a domain rule refused.
    field: str | None = None
    errors: list[FieldError] | None = None


def _problem(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=Problem, description=description,
                        media_type="application/problem+json", generate_examples=False)


COMMON = {
    "400": _problem("Malformed request, e.g. a body that is not JSON"),
    "401": _problem("No valid bearer token (`token_missing`, `token_invalid`, `token_expired`, "
                    "`session_revoked`, `device_revoked`)"),
    "413": _problem("Request body over the documented limit (`payload_too_large`)"),
    "422": _problem("Invalid input; `field` names what failed"),
}
BY_METHOD = {
    "GET": {"404": _problem("Not found, or outside the caller's scope")},
    "POST": {"403": _problem("Not allowed for this role"), "409": _problem("Conflict, e.g. `id_taken`")},
    "PATCH": {"404": _problem("Not found, or outside the caller's scope"),
              "403": _problem("Not allowed for this role"),
              "412": _problem("`If-Match` version is stale (`version_mismatch`)")},
    "PUT": {"404": _problem("Not found")},
    "DELETE": {"404": _problem("Not found, or outside the caller's scope")},
}


def openapi_config(version: str) -> OpenAPIConfig:
    return OpenAPIConfig(
        title="fieldsales API",
        version=version,
        description="Backend for mobile field-sales teams. Every `/api/v1` route needs a bearer "
        "token from `POST /api/v1/auth/login` except login and refresh. Errors are Problem Details.",
        path="/schema",
        render_plugins=[SwaggerRenderPlugin(**OFFLINE_SWAGGER)],
        security=[{"bearer": []}],
        components=Components(security_schemes={
            "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
        }),
    )


def document_errors(app: Litestar) -> None:
    """Attach the Problem Details responses (and public-route security) to every API handler."""
    for route in app.routes:
        if not route.path.startswith("/api/"):
            continue
        public = any(re.match(p, route.path) for p in PUBLIC_PATHS)
        for handler in getattr(route, "route_handlers", ()):
            extra = dict(COMMON)
            for method in handler.http_methods:
                extra.update(BY_METHOD.get(method, {}))
            if public:
                extra.pop("401")
                handler.security = [{}]
            handler.responses = {int(k): v for k, v in extra.items()} | dict(handler.responses or {})
