"""Name search served by an index: FTS5 word prefixes on SQLite, trigrams on PostgreSQL.

Every word of the query must match. On SQLite a query word must start a word
of the name ("acm wid" finds "Acme Widgets"); on PostgreSQL it may occur
anywhere in the name (case-insensitive, trigram-indexed), which finds
everything the SQLite form finds.
"""

from __future__ import annotations

import re

from piccolo.columns.combination import WhereRaw

from server.common.errors import Invalid
from server.db.engine import is_sqlite

#: The expression each searchable table indexes (see migration 0001).
SEARCH_EXPRESSIONS = {
    "accounts": "name",
    "contacts": "first_name || ' ' || last_name",
    "leads": "first_name || ' ' || last_name || ' ' || company",
    "opportunities": "name",
}
MAX_QUERY = 100


def fts_match_expression(query: str) -> str:
    """``acme wid`` -> ``"acme"* AND "wid"*`` (each token quoted: no FTS syntax leaks in)."""
    tokens = re.findall(r"\w+", query.lower())
    return " AND ".join(f'"{t}"*' for t in tokens)


def like_pattern(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def name_search(tablename: str, query: str) -> WhereRaw:
    query = query.strip()
    if not query or len(query) > MAX_QUERY:
        raise Invalid(f"search text must have 1 to {MAX_QUERY} characters", field="q")
    if is_sqlite():
        match = fts_match_expression(query)
        if not match:
            raise Invalid("search text needs at least one letter or digit", field="q")
        return WhereRaw(
            f"{tablename}.rowid IN (SELECT rowid FROM {tablename}_fts WHERE {tablename}_fts MATCH {{}})",
            match,
        )
    expr = SEARCH_EXPRESSIONS[tablename]
    words = query.split()[:8]
    sql = " AND ".join(f"({expr}) ILIKE {{}}" for _ in words)
    return WhereRaw(f"({sql})", *(like_pattern(w) for w in words))
