"""The forecast arithmetic, as pure functions (no I/O): the service reads grouped rows and hands
them here.

**Which probability counts.** An opportunity's own ``probability`` column is authoritative: it
is always set (creation defaults it to ``STAGE_PROBABILITY[stage]``, a stage move resets it to the
new stage's default unless the same patch gives one) and a rep may override it per deal. So the
weighted pipeline and the categories read ``probability``, never the stage table.

**Money.** Amounts are whole cents (``int``) here and sums are exact: the weighted pipeline keeps
``cents x percent`` and divides once, at the end, rounding half-even to cents. There is no FX
table, so nothing is converted: every figure is kept per currency (the org's base currency first).
The conversion forecast is in the base currency only (its average deal counts won deals in the base
currency; wins in other currencies still count in the rate).

**Forecast categories** (the opportunities table has no category column, so it is derived):

* ``closed_won`` -> ``closed``; ``closed_lost`` -> ``omitted``;
* an open stage by the deal's probability: >= 70 ``commit``, >= 40 ``best_case``, else
  ``pipeline``.

**Conversion-rate forecast.** ``open leads x win rate x average won deal``, where, for a set of
leads (a rep's, by lead owner):

* *open* leads have status ``new``, ``contacted`` or ``qualified``;
* the *sample* is the closed leads: converted leads whose deal is ``closed_won`` (*wins*) or
  ``closed_lost``, plus ``disqualified`` leads. Converted leads whose deal is still open, or that
  were converted without a deal, have no outcome yet and are left out;
* *rate* = wins / sample; *average won deal* = mean amount of the wins' deals in the base currency.

The rep's own leads are used when their sample is at least ``MIN_SAMPLE``; else their team's (all
users below the rep's manager, the rep included); else the org's. Under ``MIN_SAMPLE`` at the org
level too the rate is unknown (``None``), as for every ratio here: no "100%" from one lead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from server.access.team import reports_of
from server.pipeline.tables import OPEN_STAGES

CATEGORIES = ("pipeline", "best_case", "commit", "closed", "omitted")
COMMIT_AT = 70
BEST_CASE_AT = 40
MIN_SAMPLE = 10
CATEGORY_RULE = (f"closed_won: closed; closed_lost: omitted; open stages by the deal's probability: "
                 f">= {COMMIT_AT} commit, >= {BEST_CASE_AT} best_case, else pipeline")
OPEN_LEAD_STATUSES = ("new", "contacted", "qualified")
CENTS = Decimal("0.01")

Links = Iterable[tuple[uuid.UUID, uuid.UUID | None]]


def category(stage: str, probability: int) -> str:
    """The forecast category of one deal (the rule in the module docstring)."""
    if stage == "closed_won":
        return "closed"
    if stage == "closed_lost":
        return "omitted"
    if probability >= COMMIT_AT:
        return "commit"
    if probability >= BEST_CASE_AT:
        return "best_case"
    return "pipeline"


def money(cents: int | Fraction) -> Decimal:
    """Whole or fractional cents as a two-place amount, rounded half-even."""
    value = Fraction(cents) / 100
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(CENTS, ROUND_HALF_EVEN)


# -- pipeline ----------------------------------------------------------------
@dataclass(frozen=True)
class DealGroup:
    """Deals of one owner sharing stage, currency and probability (one grouped row)."""

    owner_id: uuid.UUID
    stage: str
    currency: str
    probability: int
    count: int
    cents: int


@dataclass
class Pipeline:
    """One currency's figures: exact sums, added person to person for roll-ups."""

    #: Sum of ``cents x percent`` over open deals: the weighted pipeline times 100.
    weighted_cp: int = 0
    open_deals: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    cents: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))

    @property
    def weighted(self) -> Decimal:
        return money(Fraction(self.weighted_cp, 100))

    def add_group(self, stage: str, probability: int, count: int, cents: int) -> None:
        if stage in OPEN_STAGES:
            self.weighted_cp += cents * probability
            self.open_deals += count
        cat = category(stage, probability)
        self.counts[cat] += count
        self.cents[cat] += cents

    def add(self, other: Pipeline) -> None:
        self.weighted_cp += other.weighted_cp
        self.open_deals += other.open_deals
        for cat in CATEGORIES:
            self.counts[cat] += other.counts[cat]
            self.cents[cat] += other.cents[cat]


#: Currency -> figures.
Figures = dict[str, Pipeline]


def weighted_pipeline(deals: Iterable[tuple[str, int, int]]) -> Decimal:
    """Sum of ``amount x probability`` over the open deals of ``(stage, probability, cents)``."""
    return money(Fraction(sum(c * p for s, p, c in deals if s in OPEN_STAGES), 100))


def pipelines(groups: Iterable[DealGroup]) -> dict[uuid.UUID, Figures]:
    """Each owner's figures per currency."""
    out: dict[uuid.UUID, Figures] = {}
    for g in groups:
        out.setdefault(g.owner_id, {}).setdefault(g.currency, Pipeline()).add_group(
            g.stage, g.probability, g.count, g.cents)
    return out


def add_figures(into: Figures, other: Figures) -> None:
    for currency, pipeline in other.items():
        into.setdefault(currency, Pipeline()).add(pipeline)


# -- conversion --------------------------------------------------------------
@dataclass(frozen=True)
class LeadGroup:
    """Leads of one owner with one status whose deal (if any) has one stage and currency."""

    owner_id: uuid.UUID
    status: str
    stage: str | None
    currency: str | None
    count: int
    cents: int


@dataclass
class LeadTally:
    open_leads: int = 0
    wins: int = 0
    losses: int = 0
    #: Won deals in the base currency, for the average deal.
    won_base: int = 0
    won_base_cents: int = 0

    @property
    def sample(self) -> int:
        return self.wins + self.losses

    def add(self, other: LeadTally) -> None:
        self.open_leads += other.open_leads
        self.wins += other.wins
        self.losses += other.losses
        self.won_base += other.won_base
        self.won_base_cents += other.won_base_cents


def lead_outcome(status: str, stage: str | None) -> str | None:
    """``open``, ``win``, ``loss`` or ``None`` (no outcome yet) for one lead."""
    if status in OPEN_LEAD_STATUSES:
        return "open"
    if status == "disqualified":
        return "loss"
    if status == "converted" and stage == "closed_won":
        return "win"
    if status == "converted" and stage == "closed_lost":
        return "loss"
    return None


def tally_leads(groups: Iterable[LeadGroup], base_currency: str) -> dict[uuid.UUID, LeadTally]:
    out: dict[uuid.UUID, LeadTally] = {}
    for g in groups:
        t = out.setdefault(g.owner_id, LeadTally())
        outcome = lead_outcome(g.status, g.stage)
        if outcome == "open":
            t.open_leads += g.count
        elif outcome == "loss":
            t.losses += g.count
        elif outcome == "win":
            t.wins += g.count
            if g.currency == base_currency:
                t.won_base += g.count
                t.won_base_cents += g.cents
    return out


def total(tallies: Iterable[LeadTally]) -> LeadTally:
    out = LeadTally()
    for t in tallies:
        out.add(t)
    return out


@dataclass(frozen=True)
class Conversion:
    open_leads: int
    basis: str
    sample: int
    wins: int
    rate: Fraction | None
    avg_deal_cents: Fraction | None
    #: ``None`` when the rate is unknown; 0 when no won deal is in the base currency.
    amount_cents: Fraction | None


def conversion(own: LeadTally, team: LeadTally | None, org: LeadTally,
               min_sample: int = MIN_SAMPLE) -> Conversion:
    """The conversion forecast of one person's open leads, from the first level with enough sample."""
    levels = [("rep", own), *([("team", team)] if team is not None else []), ("org", org)]
    basis, used = next(((b, t) for b, t in levels if t.sample >= min_sample), levels[-1])
    if used.sample < min_sample:
        return Conversion(own.open_leads, basis, used.sample, used.wins, None, None, None)
    rate = Fraction(used.wins, used.sample)
    avg = Fraction(used.won_base_cents, used.won_base) if used.won_base else None
    amount = own.open_leads * rate * (avg or 0)
    return Conversion(own.open_leads, basis, used.sample, used.wins, rate, avg, amount)


def team_of(user_id: uuid.UUID, links: Mapping[uuid.UUID, uuid.UUID | None]) -> set[uuid.UUID] | None:
    """Everyone below the user's manager (the user included); ``None`` without a manager."""
    manager = links.get(user_id)
    if manager is None:
        return None
    return reports_of(manager, links.items())


# -- hierarchy ---------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    user_id: uuid.UUID
    #: The manager when they are in the report, else ``None`` (a root of the report).
    parent: uuid.UUID | None
    depth: int
    #: Everyone below this person in the report, depth first.
    below: tuple[uuid.UUID, ...]


def tree(people: Iterable[uuid.UUID], links: Mapping[uuid.UUID, uuid.UUID | None]) -> list[Node]:
    """``people`` as a forest along ``manager_id``, depth first (roots and siblings in id order).

    A person whose manager is not among ``people`` is a root; a cycle of managers is broken at its
    smallest id, so everyone appears exactly once.
    """
    members = set(people)
    children: dict[uuid.UUID, list[uuid.UUID]] = {}
    roots = []
    for user in sorted(members):
        manager = links.get(user)
        if manager is not None and manager in members and manager != user:
            children.setdefault(manager, []).append(user)
        else:
            roots.append(user)
    order: list[tuple[uuid.UUID, uuid.UUID | None, int]] = []
    seen: set[uuid.UUID] = set()

    def walk(root: uuid.UUID) -> None:
        stack = [(root, None, 0)]
        while stack:
            user, parent, depth = stack.pop()
            if user in seen:
                continue
            seen.add(user)
            order.append((user, parent, depth))
            stack.extend((c, user, depth + 1) for c in reversed(children.get(user, [])))

    for root in roots:
        walk(root)
    for user in sorted(members - seen):  # only cycles are left
        walk(user)
    nodes = []
    for i, (user, parent, depth) in enumerate(order):
        end = next((j for j in range(i + 1, len(order)) if order[j][2] <= depth), len(order))
        nodes.append(Node(user, parent, depth, tuple(u for u, _, _ in order[i + 1:end])))
    return nodes


def roll_up(nodes: Iterable[Node], own: Mapping[uuid.UUID, Figures]) -> dict[uuid.UUID, Figures]:
    """Each person's figures plus everyone's below them, per currency and category."""
    out: dict[uuid.UUID, Figures] = {}
    for node in nodes:
        figures: Figures = {}
        for user in (node.user_id, *node.below):
            add_figures(figures, own.get(user, {}))
        out[node.user_id] = figures
    return out
