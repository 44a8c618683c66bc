"""Every error leaves as Problem Details (RFC 9457) with a machine-readable ``code``."""

from __future__ import annotations

import logging
import re
import sqlite3

import asyncpg
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from server.common.errors import DomainError
from server.routes.logs import current_request_id

log = logging.getLogger("fieldsales.errors")

PROBLEM = "application/problem+json"
STATUS_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited",
    503: "unavailable",
}
TITLES = {
    400: "Bad request", 401: "Not authenticated", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 409: "Conflict", 413: "Request body too large",
    410: "Gone", 412: "Precondition failed", 415: "Unsupported media type", 422: "Invalid input",
    426: "Upgrade required", 429: "Too many requests",
    500: "Internal error", 503: "Service unavailable",
}


def problem(request: Request, status: int, code: str, detail: str, *,
            headers: dict[str, str] | None = None, **extra) -> Response:
    body = {
        "type": f"https://fieldsales.dev/problems/{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail,
        "instance": request.url.path,
        "request_id": current_request_id(),
        **{k: v for k, v in extra.items() if v is not None},
    }
    return Response(content=body, status_code=status, media_type=PROBLEM, headers=headers)


def domain_error(request: Request, exc: DomainError) -> Response:
    retry_after = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return problem(request, exc.status, exc.code, exc.message, headers=headers,
                   field=exc.field, **exc.extra)


FIELD_IN_MESSAGE = re.compile(r"(?:missing required|unknown) field `([^`]+)`")


def _field_of(key: str | None, message: str) -> str | None:
    """The failing field: Litestar's key, or for a whole-body error the field msgspec names."""
    named = FIELD_IN_MESSAGE.search(message)
    if key in (None, "", "data") and named:
        return named.group(1)
    if key and key.startswith("data."):
        key = key.removeprefix("data.")
    return key or None


def validation_error(request: Request, exc: ValidationException) -> Response:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        message = str(item.get("message", ""))
        field = _field_of(item.get("key"), message)
        errors.append({"field": field, "source": item.get("source"), "message": message})
    detail = errors[0]["message"] if errors else str(exc.detail)
    if "body" in detail.lower() and "too large" in detail.lower():
        return problem(request, 413, "payload_too_large", detail)
    return problem(request, 422, "validation_error", detail,
                   field=errors[0]["field"] if errors else None, errors=errors)


def http_error(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if isinstance(exc, NotAuthorizedException):
        status = 401
    elif isinstance(exc, PermissionDeniedException):
        status = 403
    elif isinstance(exc, NotFoundException):
        status = 404
    code = STATUS_CODES.get(status, "error")
    headers = dict(exc.headers or {})
    return problem(request, status, code, str(exc.detail), headers=headers or None)


#: Failures of the infrastructure, not of the request: the client should retry later.
UNAVAILABLE = (OSError, sqlite3.OperationalError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
               asyncpg.TooManyConnectionsError, asyncpg.CannotConnectNowError,
               # "database is not currently accepting connections", lock timeouts: transient states
               asyncpg.ObjectNotInPrerequisiteStateError, asyncpg.InvalidCatalogNameError,
               asyncpg.InternalClientError)
RETRY_AFTER_S = 5


def internal_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, UNAVAILABLE):
        log.warning("dependency unavailable: %s", exc, extra={"path": request.url.path})
        return problem(request, 503, "unavailable", "the database is unavailable; nothing was applied, retry later",
                       headers={"Retry-After": str(RETRY_AFTER_S)})
    log.exception("unhandled error", extra={"path": request.url.path})
    return problem(request, HTTP_500_INTERNAL_SERVER_ERROR, "internal_error",
                   "something went wrong on our side; the request id identifies it in our logs")


EXCEPTION_HANDLERS = {
    DomainError: domain_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    Exception: internal_error,
}
