"""Run a migration's SQL file for the current engine, statement by statement.

Migrations are hand-written SQL per engine (Piccolo cannot generate SQLite
migrations reliably); each Piccolo migration module calls :func:`run_sql_file`
from ``add_raw`` so it runs inside Piccolo's migration transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from server.db.engine import current_engine

SQL_DIR = Path(__file__).parent / "sql"


def split_statements(script: str) -> list[str]:
    """Split a script into statements; trigger bodies stay whole."""
    statements: list[str] = []
    buf: list[str] = []
    for line in script.splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buf.append(line)
        text = "\n".join(buf)
        if sqlite3.complete_statement(text):
            statements.append(text.strip().rstrip(";"))
            buf = []
    if buf and "\n".join(buf).strip():
        raise ValueError(f"unterminated statement: {buf[0][:60]!r}")
    return statements


async def run_sql_file(stem: str) -> None:
    engine = current_engine()
    path = SQL_DIR / f"{stem}.{engine.engine_type}.sql"
    for statement in split_statements(path.read_text()):
        await engine.run_ddl(statement)
