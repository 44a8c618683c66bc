"""Units of work: the one place that decides how a write transaction starts.

An HTTP request, a CLI step or a job wraps its writes in ``unit_of_work()``;
services never commit on their own. On SQLite a write transaction is
``BEGIN IMMEDIATE`` so writers queue for the lock up front instead of failing
half-way with ``SQLITE_BUSY``; on PostgreSQL it is an ordinary transaction.
"""

from __future__ import annotations

from piccolo.engine.sqlite import TransactionType

from server.db.engine import current_engine, is_sqlite


def unit_of_work():
    engine = current_engine()
    if is_sqlite(engine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()
