from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_datetime(value: object) -> datetime | None:
    """A timestamp read back as the driver gives it: a ``datetime`` (PostgreSQL) or its text (SQLite plain reads)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
