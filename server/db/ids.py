"""Row ids: UUIDv7, so ids made offline on phones sort by creation time too."""

import uuid

from uuid_utils.compat import uuid7


def new_id() -> uuid.UUID:
    return uuid7()
