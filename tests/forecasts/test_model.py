"""The forecast arithmetic: hand-computed cases and properties of the pure model."""

from __future__ import annotations

import uuid
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from server.forecasts import model
from server.forecasts.model import DealGroup, LeadGroup, LeadTally
from server.pipeline.tables import OPEN_STAGES, STAGES

A, B, C = (uuid.UUID(int=i) for i in (1, 2, 3))


# -- hand-computed ---------------------------------------------------------------
def test_categories_follow_the_documented_rule():
    assert model.category("closed_won", 100) == "closed"
    assert model.category("closed_lost", 0) == "omitted"
    assert model.category("negotiation", 75) == "commit"
    assert model.category("prospecting", 70) == "commit"      # a rep's own probability wins
    assert model.category("proposal", 69) == "best_case"
    assert model.category("proposal", 40) == "best_case"
    assert model.category("negotiation", 39) == "pipeline"


def test_weighted_pipeline_by_hand():
    deals = [("proposal", 50, 100_000), ("negotiation", 75, 20_001), ("closed_won", 100, 999_999),
             ("prospecting", 10, 333)]
    # 1000.00 x 50% + 200.01 x 75% + 3.33 x 10% = 500 + 150.0075 + 0.333 = 650.3405
    assert model.weighted_pipeline(deals) == Decimal("650.34")


def test_pipelines_split_by_currency_and_category():
    groups = [DealGroup(A, "proposal", "USD", 50, 2, 200_000), DealGroup(A, "closed_won", "USD", 100, 1, 5_000),
              DealGroup(A, "negotiation", "EUR", 80, 1, 10_000), DealGroup(B, "closed_lost", "USD", 0, 3, 900)]
    figures = model.pipelines(groups)
    usd = figures[A]["USD"]
    assert usd.weighted == Decimal("1000.00") and usd.open_deals == 2
    assert usd.counts["best_case"] == 2 and usd.cents["closed"] == 5_000
    assert figures[A]["EUR"].weighted == Decimal("80.00") and figures[A]["EUR"].counts["commit"] == 1
    assert figures[B]["USD"].counts["omitted"] == 3 and figures[B]["USD"].weighted == 0


def test_six_wins_from_fifteen_closed_leads_is_forty_percent():
    groups = [LeadGroup(A, "converted", "closed_won", "USD", 6, 6 * 150_000),
              LeadGroup(A, "converted", "closed_lost", "USD", 4, 4 * 99_999),
              LeadGroup(A, "disqualified", None, None, 5, 0),
              LeadGroup(A, "converted", "proposal", "USD", 7, 7 * 1_000),   # no outcome yet
              LeadGroup(A, "converted", None, None, 2, 0),                  # converted without a deal
              LeadGroup(A, "new", None, None, 3, 0), LeadGroup(A, "qualified", None, None, 2, 0)]
    tally = model.tally_leads(groups, "USD")[A]
    assert (tally.wins, tally.sample, tally.open_leads) == (6, 15, 5)
    c = model.conversion(tally, None, tally)
    assert c.basis == "rep" and c.sample == 15 and c.rate == Fraction(2, 5)
    assert model.money(c.avg_deal_cents) == Decimal("1500.00")
    assert model.money(c.amount_cents) == Decimal("3000.00")     # 5 open x 40% x 1500


def test_wins_in_another_currency_count_in_the_rate_not_the_average():
    groups = [LeadGroup(A, "converted", "closed_won", "USD", 5, 50_000),
              LeadGroup(A, "converted", "closed_won", "EUR", 5, 9_999_999),
              LeadGroup(A, "new", None, None, 1, 0)]
    tally = model.tally_leads(groups, "USD")[A]
    c = model.conversion(tally, None, tally)
    assert c.rate == 1 and model.money(c.avg_deal_cents) == Decimal("100.00")


def test_small_samples_fall_back_to_team_then_org_and_never_guess():
    small, team, org = LeadTally(open_leads=4, wins=2, losses=1), LeadTally(wins=3, losses=9), LeadTally(wins=10,
                                                                                                        losses=10)
    assert model.conversion(small, team, org).basis == "team"
    c = model.conversion(small, LeadTally(wins=1, losses=2), org)
    assert (c.basis, c.sample, c.rate, c.open_leads) == ("org", 20, Fraction(1, 2), 4)
    assert c.avg_deal_cents is None and c.amount_cents == 0      # no won deal in the base currency
    nothing = model.conversion(small, None, LeadTally(wins=2, losses=2))
    assert (nothing.basis, nothing.sample, nothing.rate, nothing.amount_cents) == ("org", 4, None, None)


def test_team_is_everyone_below_the_manager():
    links = {A: None, B: A, C: B}
    assert model.team_of(C, links) == {C}
    assert model.team_of(B, links) == {B, C}
    assert model.team_of(A, links) is None


def test_tree_is_depth_first_and_survives_cycles():
    d = uuid.UUID(int=4)
    nodes = model.tree([A, B, C, d], {A: None, B: A, C: B, d: A})
    assert [(n.user_id, n.parent, n.depth) for n in nodes] == [(A, None, 0), (B, A, 1), (C, B, 2), (d, A, 1)]
    assert nodes[0].below == (B, C, d) and nodes[1].below == (C,) and nodes[2].below == ()
    cycle = model.tree([A, B], {A: B, B: A})
    assert sorted(n.user_id for n in cycle) == [A, B]
    # A report narrowed to B: B is its root though B has a manager.
    assert [(n.user_id, n.parent) for n in model.tree([B, C], {A: None, B: A, C: B})] == [(B, None), (C, B)]


# -- properties --------------------------------------------------------------
@st.composite
def org_chart(draw):
    """A random forest: each user's manager is someone created before them (or nobody)."""
    n = draw(st.integers(1, 25))
    ids = [uuid.UUID(int=i + 1) for i in range(n)]
    links = {}
    for i, uid in enumerate(ids):
        links[uid] = draw(st.one_of(st.none(), st.sampled_from(ids[:i]))) if i else None
    return links


def deal_groups(owners):
    return st.lists(st.builds(
        DealGroup, owner_id=st.sampled_from(owners), stage=st.sampled_from(STAGES),
        currency=st.sampled_from(["USD", "EUR"]), probability=st.integers(0, 100),
        count=st.integers(1, 5), cents=st.integers(0, 10**13)), max_size=40)


@given(st.data())
def test_roll_up_of_the_roots_is_the_sum_of_everyone(data):
    links = data.draw(org_chart())
    own = model.pipelines(data.draw(deal_groups(sorted(links))))
    nodes = model.tree(links, links)
    rolled = model.roll_up(nodes, own)
    everyone: model.Figures = {}
    for figures in own.values():
        model.add_figures(everyone, figures)
    roots: model.Figures = {}
    for node in nodes:
        if node.parent is None:
            model.add_figures(roots, rolled[node.user_id])
        # Each manager's figure is their own plus their direct reports' roll-ups.
        expected: model.Figures = {}
        model.add_figures(expected, own.get(node.user_id, {}))
        for child in (n for n in nodes if n.parent == node.user_id):
            model.add_figures(expected, rolled[child.user_id])
        assert expected == rolled[node.user_id]
    assert roots == everyone
    assert len(nodes) == len(links) and {n.user_id for n in nodes} == set(links)


@given(st.lists(st.tuples(st.sampled_from(OPEN_STAGES), st.integers(0, 100), st.integers(0, 10**13)),
                min_size=1, max_size=20),
       st.data())
def test_weighted_pipeline_is_monotone_in_probability(deals, data):
    i = data.draw(st.integers(0, len(deals) - 1))
    stage, p, cents = deals[i]
    higher = data.draw(st.integers(p, 100))
    raised = [*deals[:i], (stage, higher, cents), *deals[i + 1:]]
    assert model.weighted_pipeline(raised) >= model.weighted_pipeline(deals)
    assert model.weighted_pipeline(deals) <= model.money(sum(c for _, _, c in deals))


tallies = st.builds(LeadTally, open_leads=st.integers(0, 50), wins=st.integers(0, 30),
                    losses=st.integers(0, 30), won_base=st.just(0), won_base_cents=st.just(0))


@given(tallies, st.one_of(st.none(), tallies), tallies, st.integers(1, 30))
def test_basis_is_the_first_level_with_enough_sample(own, team, org, minimum):
    c = model.conversion(own, team, org, minimum)
    levels = [("rep", own), *([("team", team)] if team is not None else []), ("org", org)]
    enough = [b for b, t in levels if t.sample >= minimum]
    assert c.basis == (enough[0] if enough else "org")
    assert c.sample == dict(levels)[c.basis].sample
    assert (c.rate is None) == (not enough)
    assert c.open_leads == own.open_leads
