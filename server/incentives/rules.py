"""A contest's rules as a msgspec struct (stored in ``contests.rules``), and their validation.

Pure: no database. ``check_rules`` raises ``Invalid`` with a machine-readable
code for what a msgspec type cannot say (an unknown metric, a missing target).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from server.common.errors import Invalid

#: Activity counts: metric -> SQL condition over ``activities`` (``{v}``: the verified-only filter).
ACTIVITY_METRICS: dict[str, str] = {
    "visits": "type = 'visit'{v}",
    "verified_visits": "type = 'visit' AND verification = 'verified'",
    "calls": "type = 'call'{v}",
    # A rep's own "connected" is not proof: under verified_only the provider must have confirmed it.
    "connected_calls": "type = 'call' AND outcome = 'connected'{v}",
    "verified_calls": "type = 'call' AND verification = 'verified'",
    "texts": "type = 'text'",
    "emails": "type = 'email'",
    "meetings": "type = 'meeting'",
}
#: Metrics read from the pipeline and the diary (not activities).
PIPELINE_METRICS = ("appointments_set", "leads_created", "leads_converted", "opps_won", "opps_won_amount")
#: A ratio: opportunities won / opportunities closed (won or lost) in the window.
RATIO_METRICS = ("win_rate",)
METRICS = (*ACTIVITY_METRICS, *PIPELINE_METRICS, *RATIO_METRICS)
#: What counts toward eligibility ("minimum activity"): customer-facing activity types.
ELIGIBILITY_TYPES = ("visit", "call", "text", "email", "meeting")
#: A win rate needs at least this many closed opportunities unless the line says otherwise.
DEFAULT_MIN_DENOMINATOR = 5

Scoring = Literal["raw", "percent_of_target", "per_potential", "improvement"]
Direction = Literal["higher", "lower"]
Visibility = Literal["all", "top3"]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]
Positive = Annotated[float, msgspec.Meta(gt=0)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Participants(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Who takes part; the union of all given. Resolved into people at publish.

    ``team_ids``: the teams' current members; ``region_id``: every rep in a team of that region.
    """

    user_ids: list[uuid.UUID] = msgspec.field(default_factory=list)
    team_ids: list[uuid.UUID] = msgspec.field(default_factory=list)
    region_id: uuid.UUID | None = None


class MetricLine(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """One measured line; the score is the weighted sum of the lines' scores."""

    metric: str
    direction: Direction = "higher"
    target: Positive | None = None
    weight: Positive = 1.0
    #: Ratios only: below this many closed opportunities the participant is not ranked.
    min_denominator: Annotated[int, msgspec.Meta(ge=1)] | None = None


class Prize(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """``rank``: to whoever holds ``rank`` (ties share); ``threshold``: to every score at or over
    ``min_score``; ``pot``: ``amount`` shared in proportion to positive scores of ranked participants."""

    kind: Literal["rank", "threshold", "pot"]
    reward: Annotated[str, msgspec.Meta(max_length=200)] = ""
    rank: Annotated[int, msgspec.Meta(ge=1)] | None = None
    min_score: float | None = None
    amount: Positive | None = None


class ContestRules(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    participants: Participants
    metrics: Annotated[list[MetricLine], msgspec.Meta(min_length=1, max_length=10)]
    scoring: Scoring = "raw"
    #: Customer-facing activities (visits, calls, texts, emails, meetings) needed to be ranked.
    min_activities: Annotated[int, msgspec.Meta(ge=0)] = 0
    #: Visits and calls count only when verified (geofence / provider-confirmed).
    verified_only: bool = False
    prizes: list[Prize] = msgspec.field(default_factory=list)


def check_rules(rules: ContestRules) -> None:
    for i, line in enumerate(rules.metrics):
        where = f"metrics[{i}]"
        if line.metric not in METRICS:
            raise Invalid(f"unknown metric {line.metric!r}; known: {', '.join(METRICS)}",
                          code="unknown_metric", field=f"{where}.metric")
        if rules.scoring == "percent_of_target" and line.target is None:
            raise Invalid("percent_of_target scoring needs a target on every metric line",
                          code="target_required", field=f"{where}.target")
        if line.min_denominator is not None and line.metric not in RATIO_METRICS:
            raise Invalid("min_denominator applies to ratio metrics only", code="not_a_ratio",
                          field=f"{where}.min_denominator")
    if len({line.metric for line in rules.metrics}) != len(rules.metrics):
        raise Invalid("each metric appears on one line at most", code="duplicate_metric", field="metrics")
    for i, prize in enumerate(rules.prizes):
        needed = {"rank": "rank", "threshold": "min_score", "pot": "amount"}[prize.kind]
        if getattr(prize, needed) is None:
            raise Invalid(f"a {prize.kind} prize needs {needed}", code="invalid_prize", field=f"prizes[{i}].{needed}")
    p = rules.participants
    if not (p.user_ids or p.team_ids or p.region_id):
        raise Invalid("name participants: user_ids, team_ids or region_id", code="no_participants",
                      field="participants")


def check_window(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise Invalid("the contest must end after it starts", code="invalid_window", field="ends_at")


def decode_rules(stored: str | bytes | dict) -> ContestRules:
    if isinstance(stored, dict):
        return msgspec.convert(stored, ContestRules)
    return msgspec.json.decode(stored, type=ContestRules)


def encode_rules(rules: ContestRules) -> str:
    return msgspec.json.encode(rules).decode()
