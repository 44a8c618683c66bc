"""Row ids: UUIDv7, so ids made offline on phones sort by creation time too."""

import uuid

from uuid_utils import uuid7 as uuid7_fast
from uuid_utils.compat import uuid7


def new_id() -> uuid.UUID:
    return uuid7()


def as_uuid(value: object) -> uuid.UUID:
    """A UUID read back as the driver gives it: a ``UUID`` (PostgreSQL) or its text (SQLite plain reads)."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def new_id_text() -> str:
    """``new_id()`` as text, for bulk writes (no ``UUID`` object: 30x cheaper to make)."""
    return str(uuid7_fast())
