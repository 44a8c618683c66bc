"""The wire vocabularies are spelled out for msgspec; they must match the tables' constants."""

from typing import get_args

from server.pipeline.schemas import LeadSource, LeadStatus, Stage
from server.pipeline.tables import LEAD_SOURCES, LEAD_STATUSES, STAGE_PROBABILITY, STAGES


def test_wire_vocabularies_match_the_tables():
    assert get_args(LeadStatus) == LEAD_STATUSES
    assert get_args(LeadSource) == LEAD_SOURCES
    assert get_args(Stage) == STAGES == tuple(STAGE_PROBABILITY)
