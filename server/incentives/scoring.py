"""From measured values to scores, ranks and prizes. Pure functions, hand-checkable.

Per metric line, a participant's line score by scoring mode (``v``: the value in
the window; ``lower`` lines flip the sign so that a higher score is always better):

* ``raw``: ``v`` (``-v`` for lower);
* ``percent_of_target``: ``100 * v / target``; for lower, ``100 * (2 - v / target)``
  (100 at the target, 200 at zero, linear, so no division by a zero value);
* ``per_potential``: ``v`` per 1,000 of the territory potential the participant
  owns (sum of the yearly potential of the accounts in their territories);
  ``-`` for lower. No potential: not ranked (reason ``no_potential``);
* ``improvement``: ``v - baseline`` (``baseline - v`` for lower), the baseline
  being the same metric over the same-length period just before the window.

The score is the weighted sum of line scores, rounded to 4 decimals (so equal
results tie exactly). Ranks are competition ranks: ties share a rank and the
next rank skips ("1, 1, 3"). Participants below ``min_activities``, or with a
ratio below its minimum denominator, are not ranked (``rank`` null).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from server.incentives.rules import (
    DEFAULT_MIN_DENOMINATOR,
    RATIO_METRICS,
    ContestRules,
    MetricLine,
)

#: ``per_potential`` scores are per this much potential.
POTENTIAL_UNIT = 1000.0


@dataclass
class Measured:
    """What the queries found for one participant."""

    values: dict[str, float] = field(default_factory=dict)
    #: For ratios: metric -> (numerator, denominator).
    ratios: dict[str, tuple[float, float]] = field(default_factory=dict)
    baseline: dict[str, float] = field(default_factory=dict)
    activities: int = 0
    potential: float | None = None


@dataclass
class Standing:
    user_id: uuid.UUID
    score: float
    rank: int | None
    eligible: bool
    values: dict[str, float]
    activities: int
    reason: str | None = None
    prize: dict = field(default_factory=dict)


def line_value(line: MetricLine, m: Measured) -> float | None:
    """The line's value for one participant (``None``: a ratio without enough sample)."""
    if line.metric in RATIO_METRICS:
        num, den = m.ratios.get(line.metric, (0.0, 0.0))
        if den < (line.min_denominator or DEFAULT_MIN_DENOMINATOR):
            return None
        return num / den
    return m.values.get(line.metric, 0.0)


def line_score(rules: ContestRules, line: MetricLine, value: float, m: Measured) -> float | None:
    lower = line.direction == "lower"
    mode = rules.scoring
    if mode == "percent_of_target":
        assert line.target is not None
        share = value / line.target
        return 100.0 * (2.0 - share) if lower else 100.0 * share
    if mode == "per_potential":
        if not m.potential:
            return None
        per = value * POTENTIAL_UNIT / m.potential
        return -per if lower else per
    if mode == "improvement":
        base = m.baseline.get(line.metric, 0.0)
        return base - value if lower else value - base
    return -value if lower else value


def score(rules: ContestRules, user_id: uuid.UUID, m: Measured) -> Standing:
    total, reason, values = 0.0, None, {}
    for line in rules.metrics:
        value = line_value(line, m)
        if value is None:
            reason = "sample_too_small"
            continue
        values[line.metric] = round(value, 6)
        s = line_score(rules, line, value, m)
        if s is None:
            reason = "no_potential"
            continue
        total += line.weight * s
    if reason is None and m.activities < rules.min_activities:
        reason = "below_min_activities"
    return Standing(user_id, round(total, 4), None, reason is None, values, m.activities, reason)


def rank(standings: list[Standing]) -> list[Standing]:
    """Competition ranks among the eligible, best score first; ties share a rank."""
    ranked = sorted((s for s in standings if s.eligible), key=lambda s: -s.score)
    previous, place = None, 0
    for i, s in enumerate(ranked, start=1):
        if s.score != previous:
            place, previous = i, s.score
        s.rank = place
    for s in standings:
        if not s.eligible:
            s.rank = None
    return standings


def award(rules: ContestRules, standings: list[Standing]) -> list[Standing]:
    """Prizes for final standings: ``{"rewards": [...], "pot_share": amount}`` on each winner."""
    ranked = [s for s in standings if s.rank is not None]
    for prize in rules.prizes:
        if prize.kind == "rank":
            winners = [s for s in ranked if s.rank == prize.rank]
        elif prize.kind == "threshold":
            winners = [s for s in ranked if s.score >= (prize.min_score or 0.0)]
        else:
            positive = [s for s in ranked if s.score > 0]
            total = sum(s.score for s in positive)
            for s in positive:
                share = round((prize.amount or 0.0) * s.score / total, 2)
                s.prize["pot_share"] = round(s.prize.get("pot_share", 0.0) + share, 2)
                s.prize.setdefault("rewards", []).append(prize.reward or "pot")
            continue
        for s in winners:
            s.prize.setdefault("rewards", []).append(prize.reward or f"{prize.kind} prize")
    return standings


def winners(rules: ContestRules, standings: list[Standing]) -> list[Standing]:
    """Who is told they won: prize holders, or (no prizes) the participants ranked first."""
    if rules.prizes:
        return [s for s in standings if s.prize]
    return [s for s in standings if s.rank == 1]
