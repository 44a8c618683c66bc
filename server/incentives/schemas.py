"""Wire types of contests and leaderboards (hand-written msgspec structs; one converter per row)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from server.incentives.rules import (
    AwareTime,
    MetricLine,
    Name,
    Participants,
    Prize,
    Scoring,
    Visibility,
    decode_rules,
)

Description = Annotated[str, msgspec.Meta(max_length=5000)]
MinActivities = Annotated[int, msgspec.Meta(ge=0)]
Lines = Annotated[list[MetricLine], msgspec.Meta(min_length=1, max_length=10)]


class ContestIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A new contest (a draft). ``starts_at``/``ends_at`` are instants with a UTC offset; the window
    is ``[starts_at, ends_at)``. Metrics: visits, verified_visits, calls, connected_calls,
    verified_calls, texts, emails, meetings, appointments_set, leads_created, leads_converted,
    opps_won, opps_won_amount, win_rate (won / closed, ``min_denominator`` default 5)."""

    id: uuid.UUID | None = None
    name: Name
    description: Description = ""
    starts_at: AwareTime
    ends_at: AwareTime
    visibility: Visibility = "all"
    participants: Participants
    metrics: Lines
    scoring: Scoring = "raw"
    min_activities: MinActivities = 0
    verified_only: bool = False
    prizes: list[Prize] = msgspec.field(default_factory=list)


class ContestPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Drafts only (409 ``not_draft`` once published); only the fields present change."""

    name: Name | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    starts_at: AwareTime | UnsetType = UNSET
    ends_at: AwareTime | UnsetType = UNSET
    visibility: Visibility | UnsetType = UNSET
    participants: Participants | UnsetType = UNSET
    metrics: Lines | UnsetType = UNSET
    scoring: Scoring | UnsetType = UNSET
    min_activities: MinActivities | UnsetType = UNSET
    verified_only: bool | UnsetType = UNSET
    prizes: list[Prize] | UnsetType = UNSET


class ContestOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    description: str
    #: draft, scheduled, running, closing, finished or cancelled.
    status: str
    starts_at: datetime
    ends_at: datetime
    visibility: str
    created_by_id: uuid.UUID
    participants: Participants
    metrics: list[MetricLine]
    scoring: str
    min_activities: int
    verified_only: bool
    prizes: list[Prize]
    #: The people taking part, resolved at publish (empty for drafts).
    participant_ids: list[uuid.UUID]
    version: int
    created_at: datetime
    updated_at: datetime


class ContestPage(msgspec.Struct):
    items: list[ContestOut]
    next_cursor: str | None = None


class LeaderboardRow(msgspec.Struct, kw_only=True):
    user_id: uuid.UUID
    score: float
    #: Null while not eligible (below the minimum activity, too small a ratio sample, no potential).
    rank: int | None
    eligible: bool
    #: metric -> value in the window.
    values: dict[str, float]
    activities: int
    reason: str | None = None
    prize: dict[str, Any] | None = None


class Adjustment(msgspec.Struct, kw_only=True):
    user_id: uuid.UUID
    metric: str
    delta: float
    activity_ids: list[str]
    created_at: datetime


class Leaderboard(msgspec.Struct, kw_only=True):
    contest_id: uuid.UUID
    status: str
    #: True once the contest is finished: the rows are the frozen results.
    final: bool
    entries: list[LeaderboardRow]
    #: Late activity recorded after the results were frozen (finished contests; managers and admins).
    adjustments: list[Adjustment] = msgspec.field(default_factory=list)


def contest_out(row: dict, participant_ids: list[uuid.UUID] | None = None) -> ContestOut:
    rules = decode_rules(row["rules"])
    return ContestOut(
        id=row["id"], name=row["name"], description=row["description"], status=row["status"],
        starts_at=row["starts_at"], ends_at=row["ends_at"], visibility=row["visibility"],
        created_by_id=row["created_by_id"], participants=rules.participants, metrics=rules.metrics,
        scoring=rules.scoring, min_activities=rules.min_activities, verified_only=rules.verified_only,
        prizes=rules.prizes, participant_ids=participant_ids or [], version=row["version"],
        created_at=row["created_at"], updated_at=row["updated_at"])


def entry_out(row: dict) -> LeaderboardRow:
    detail = row["detail"]
    detail = msgspec.json.decode(detail) if isinstance(detail, (str, bytes)) else (detail or {})
    return LeaderboardRow(user_id=row["user_id"], score=row["score"], rank=row["rank"],
                          eligible=bool(detail.get("eligible", row["rank"] is not None)),
                          values=detail.get("values", {}), activities=int(detail.get("activities", 0)),
                          reason=detail.get("reason"), prize=detail.get("prize"))
