"""Domain errors raised by services; ``server.routes.errors`` maps them to HTTP.

Each carries a machine-readable ``code`` that clients can branch on.
"""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None,
                 extra: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field = field
        self.extra = extra or {}


class Invalid(DomainError):
    status = 422
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class PreconditionFailed(DomainError):
    """The client's ``If-Match`` version is not the stored one."""

    status = 412
    code = "version_mismatch"


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class TooManyRequests(DomainError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, **kw) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class Gone(DomainError):
    """The client's position is older than what the server still keeps (sync cursors)."""

    status = 410
    code = "gone"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"


class UpgradeRequired(DomainError):
    """The client's schema version is no longer accepted."""

    status = 426
    code = "upgrade_required"


class Unavailable(DomainError):
    """A dependency failed; nothing was applied. Retry after ``retry_after`` seconds."""

    status = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 5, **kw) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
