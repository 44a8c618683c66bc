"""Small pieces every controller uses."""

from __future__ import annotations

from typing import Annotated

from litestar.params import HeaderParameter

from server.common.errors import Invalid


def if_match_version(header: str | None) -> int | None:
    """``If-Match: "12"`` (or ``12``) -> 12: the version the client last saw."""
    if header is None:
        return None
    raw = header.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise Invalid("If-Match must carry the record's version", field="If-Match")
    return int(raw)


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


#: The version the client last saw, for optimistic concurrency (412 when stale).
IfMatch = Annotated[str | None, HeaderParameter(name="If-Match", required=False)]
