"""Wire types of the activity log.

Who writes which column (SYNC.md guarantee 4): the phone sets the client-owned
columns once, at insert; an amendment may only touch ``AMENDABLE``; the rest
(``rep_id``, ``received_at``, delivery status, verification) is the server's.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from server.common.schemas import Page

ActivityType = Literal["visit", "call", "text", "email", "meeting", "note", "task"]
Direction = Literal["in", "out"]
#: Statuses a client may give a message; the sending pipeline moves it on from there.
ClientMessageStatus = Literal["draft", "queued"]
#: Device clock, always with its UTC offset (a naive time is ambiguous across zones).
DeviceTime = Annotated[datetime, msgspec.Meta(tz=True)]
Outcome = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
Subject = Annotated[str, msgspec.Meta(max_length=300)]
Body = Annotated[str, msgspec.Meta(max_length=20_000)]
Counterpart = Annotated[str, msgspec.Meta(max_length=254)]
#: A week bounds any single interaction and keeps the value inside a 32-bit column.
DurationS = Annotated[int, msgspec.Meta(ge=0, le=7 * 24 * 3600)]
AccuracyM = Annotated[float, msgspec.Meta(ge=0, le=1_000_000)]
#: The range (lat -90..90, lng -180..180, finite) is checked by the service, which answers
#: 422 ``invalid_location`` (a sync push: that mutation ``rejected``) rather than a bare decode error.
CheckInLat = Annotated[float, msgspec.Meta(description="WGS84 latitude, -90..90")]
CheckInLng = Annotated[float, msgspec.Meta(description="WGS84 longitude, -180..180")]

#: Columns an amendment (PATCH) may change; ``status`` only from ``draft`` to ``queued`` (send a draft).
AMENDABLE = ("subject", "body", "outcome", "ended_at", "duration_s", "status")


class ActivityIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: Generated on the phone (UUIDv7) so a retried upload never duplicates; optional here.
    id: uuid.UUID | None = None
    type: ActivityType
    direction: Direction = "out"
    #: call: connected|voicemail|no_answer|busy|failed; visit: met|not_available|left_material|closed.
    outcome: Outcome | None = None
    occurred_at: DeviceTime
    ended_at: DeviceTime | None = None
    duration_s: DurationS | None = None
    #: Visits: where the phone checked in, compared with the account's location (``verification``).
    lat: CheckInLat | None = None
    lng: CheckInLng | None = None
    accuracy_m: AccuracyM | None = None
    mock_location: bool = False
    account_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    lead_id: uuid.UUID | None = None
    opportunity_id: uuid.UUID | None = None
    subject: Subject | None = None
    body: Body | None = None
    #: Phone number (calls, texts; stored in E.164) or email address (emails).
    counterpart: Counterpart | None = None
    #: Texts and emails only.
    status: ClientMessageStatus | None = None


class ActivityPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An amendment: only ``subject``, ``body``, ``outcome``, ``ended_at``, ``duration_s``, and
    ``status`` from ``draft`` to ``queued`` (a message composed earlier is sent now).

    The other fields of an activity are accepted by the decoder only so that the
    service can answer ``immutable_field`` naming the field, instead of a bare
    "unknown field".
    """

    subject: Subject | None | UnsetType = UNSET
    body: Body | None | UnsetType = UNSET
    outcome: Outcome | None | UnsetType = UNSET
    ended_at: DeviceTime | None | UnsetType = UNSET
    duration_s: DurationS | None | UnsetType = UNSET
    status: ClientMessageStatus | UnsetType = UNSET
    # Fixed at insert (client-owned) or server-owned: present means 422 immutable_field.
    id: Any | UnsetType = UNSET
    type: Any | UnsetType = UNSET
    direction: Any | UnsetType = UNSET
    occurred_at: Any | UnsetType = UNSET
    lat: Any | UnsetType = UNSET
    lng: Any | UnsetType = UNSET
    accuracy_m: Any | UnsetType = UNSET
    mock_location: Any | UnsetType = UNSET
    account_id: Any | UnsetType = UNSET
    contact_id: Any | UnsetType = UNSET
    lead_id: Any | UnsetType = UNSET
    opportunity_id: Any | UnsetType = UNSET
    counterpart: Any | UnsetType = UNSET
    rep_id: Any | UnsetType = UNSET
    received_at: Any | UnsetType = UNSET
    verification: Any | UnsetType = UNSET
    distance_m: Any | UnsetType = UNSET
    clock_offset_s: Any | UnsetType = UNSET


class ActivityOut(msgspec.Struct):
    id: uuid.UUID
    rep_id: uuid.UUID
    type: str
    direction: str
    outcome: str | None
    occurred_at: datetime
    received_at: datetime
    ended_at: datetime | None
    duration_s: int | None
    lat: float | None
    lng: float | None
    accuracy_m: float | None
    mock_location: bool
    account_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    lead_id: uuid.UUID | None
    opportunity_id: uuid.UUID | None
    subject: str | None
    body: str | None
    counterpart: str | None
    status: str | None
    status_detail: str | None
    verification: str | None
    distance_m: float | None
    version: int
    created_at: datetime
    updated_at: datetime


def activity_out(row: dict) -> ActivityOut:
    return ActivityOut(**{f: row[f] for f in ActivityOut.__struct_fields__})


class ActivityPage(Page[ActivityOut]):
    """One keyset page; a named type so the phone's generated code gets a stable name."""
