from hypothesis import given
from hypothesis import strategies as st

from server.db.search import fts_match_expression, like_pattern


def test_fts_expression_quotes_every_word():
    assert fts_match_expression("Acme wid") == '"acme"* AND "wid"*'
    assert fts_match_expression('a" OR b*') == '"a"* AND "or"* AND "b"*'


@given(st.text(max_size=50))
def test_fts_expression_has_no_stray_syntax(text):
    expr = fts_match_expression(text)
    for part in filter(None, expr.split(" AND ")):
        assert part.startswith('"') and part.endswith('"*') and '"' not in part[1:-2]


def test_like_pattern_escapes_wildcards():
    assert like_pattern("50%_off") == "%50\\%\\_off%"
