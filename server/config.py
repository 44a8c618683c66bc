"""Settings, read once from ``FIELDSALES_*`` environment variables.

The first run needs no configuration: the database defaults to a SQLite file
under ``./var/`` and a secret key is generated and stored beside it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import msgspec

DEFAULT_DATA_DIR = "var"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str
    secret_key: str
    data_dir: str = DEFAULT_DATA_DIR
    access_token_ttl_s: int = 15 * 60
    refresh_token_ttl_s: int = 30 * 24 * 3600
    #: Largest request body accepted, in bytes (413 above it).
    max_body_bytes: int = 1_048_576
    #: Failed-or-not login attempts allowed per (email, client address) per minute.
    login_attempts_per_minute: int = 10
    log_level: str = "INFO"
    #: Hash cost; tests lower it so thousands of users hash quickly.
    password_time_cost: int = 3
    #: Live-update stream (``GET /api/v1/sync/events``): seconds without an event before a heartbeat,
    sse_heartbeat_s: float = 15.0
    #: seconds between re-checks of a stream's session and scope,
    sse_scope_refresh_s: float = 300.0
    #: and the reconnection delay suggested to phones (``retry:``), in milliseconds.
    sse_retry_ms: int = 5000
    #: Where this server is reachable from outside (``https://api.example.com``): provider callback
    #: URLs are built on it and webhook signatures are checked against it. Unset: the request's own URL.
    public_url: str | None = None
    #: Outgoing email: ``smtp://user:pass@host:587`` (STARTTLS when offered), ``smtps://host:465``
    #: (TLS from the start). Unset: emails stay queued until it is set.
    smtp_url: str | None = None
    #: From address of an org's emails when the org has no ``email_from`` of its own.
    mail_from: str = "fieldsales@localhost"
    #: Texts and calls through a Twilio-compatible REST API. Unset SID or token: texts and calls wait.
    twilio_base_url: str = "https://api.twilio.com"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    #: Key of the HMAC signature on inbound-email webhooks (Twilio's scheme); unset: the Twilio token.
    inbound_email_secret: str | None = None
    #: Run the outbox sender inside the API process (the embedded default); off when
    #: ``fieldsales outbox run`` runs it on its own.
    outbox_in_process: bool = True
    #: Seconds a sender holds the items it took before another sender may take them over.
    outbox_lease_s: float = 120.0
    #: Messages a sender has with providers at once, and attempts before a message is failed.
    outbox_concurrency: int = 8
    outbox_max_attempts: int = 10
    #: Provider webhooks accepted per org and kind per minute (429 above).
    webhook_requests_per_minute: int = 1200
    #: Run the job scheduler inside the API process (the embedded default); off when
    #: ``fieldsales scheduler`` runs it on its own. Several schedulers may run: each window runs once.
    scheduler_in_process: bool = True
    #: Extra modules whose ``@job`` functions join the catalogue (comma-separated; plugins, tests).
    job_modules: str = ""
    #: Push notifications through FCM HTTP v1 (Android, and iOS through FCM's APNs bridge).
    fcm_base_url: str = "https://fcm.googleapis.com"
    fcm_project_id: str | None = None
    #: A bearer token for FCM; minting and refreshing it from a service account is the deployment's job.
    fcm_access_token: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"FIELDSALES_{name}", default)


def _flag(raw: str) -> bool:
    return raw.strip().lower() in ("1", "true", "yes", "on")


def _stored_secret(data_dir: Path) -> str:
    """Return the secret kept in ``data_dir``, creating it on first use."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; keyword arguments win (tests, CLI)."""
    data_dir = Path(str(overrides.pop("data_dir", None) or _env("DATA_DIR", DEFAULT_DATA_DIR)))
    url = overrides.pop("database_url", None) or _env("DATABASE_URL")
    if not url:
        url = f"sqlite:///{data_dir / 'fieldsales.sqlite3'}"
    key = overrides.pop("secret_key", None) or _env("SECRET_KEY") or _stored_secret(data_dir)
    values: dict[str, object] = {"database_url": url, "secret_key": key, "data_dir": str(data_dir)}
    for field, conv in (
        ("access_token_ttl_s", int),
        ("refresh_token_ttl_s", int),
        ("max_body_bytes", int),
        ("login_attempts_per_minute", int),
        ("log_level", str),
        ("password_time_cost", int),
        ("sse_heartbeat_s", float),
        ("sse_scope_refresh_s", float),
        ("sse_retry_ms", int),
        ("public_url", str),
        ("smtp_url", str),
        ("mail_from", str),
        ("twilio_base_url", str),
        ("twilio_account_sid", str),
        ("twilio_auth_token", str),
        ("inbound_email_secret", str),
        ("outbox_in_process", _flag),
        ("outbox_lease_s", float),
        ("outbox_concurrency", int),
        ("outbox_max_attempts", int),
        ("webhook_requests_per_minute", int),
        ("scheduler_in_process", _flag),
        ("job_modules", str),
        ("fcm_base_url", str),
        ("fcm_project_id", str),
        ("fcm_access_token", str),
    ):
        raw = _env(field.upper().removesuffix("_S"))
        if raw is not None:
            values[field] = conv(raw)
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]
