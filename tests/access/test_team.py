"""Reporting lines as properties: a manager's team is everyone below them, and nobody else."""

import uuid

from hypothesis import given
from hypothesis import strategies as st

from server.access.team import managers_of, reports_of


@st.composite
def org_chart(draw):
    """A random forest: each user's manager is someone created before them (or nobody)."""
    n = draw(st.integers(1, 40))
    ids = [uuid.UUID(int=i + 1) for i in range(n)]
    links = []
    for i, uid in enumerate(ids):
        boss = draw(st.one_of(st.none(), st.sampled_from(ids[:i]))) if i else None
        links.append((uid, boss))
    return links


@given(org_chart())
def test_reports_are_exactly_those_whose_chain_reaches_the_manager(links):
    for manager, _ in links:
        expected = {u for u, _ in links if manager in managers_of(u, links)}
        assert reports_of(manager, links) == expected


@given(org_chart())
def test_chains_end_and_never_contain_the_user(links):
    for user, _ in links:
        chain = managers_of(user, links)
        assert user not in chain and len(chain) == len(set(chain))


def test_cycles_do_not_hang():
    a, b = uuid.UUID(int=1), uuid.UUID(int=2)
    links = [(a, b), (b, a)]
    assert reports_of(a, links) == {b}
    assert managers_of(a, links) == [b]
