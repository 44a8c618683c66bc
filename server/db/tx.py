"""Units of work: the one place that decides how a write transaction starts and what follows its commit.

An HTTP request, a CLI step or a job wraps its writes in ``unit_of_work()``;
services never commit on their own. On SQLite a write transaction is
``BEGIN IMMEDIATE`` so writers queue for the lock up front instead of failing
half-way with ``SQLITE_BUSY``; on PostgreSQL it is an ordinary transaction.

Work that must only happen once the writes are durable (live-update pokes,
see ``server.sync.events``) is registered on the current unit with
:meth:`UnitOfWork.after_commit`; a rollback drops it, and so does rolling back
a :func:`savepoint` for what was registered after it. A nested
``unit_of_work()`` joins the outer one, which commits and runs it all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from piccolo.engine.sqlite import TransactionType

from server.db.engine import current_engine, is_sqlite

log = logging.getLogger("fieldsales.db")


class UnitOfWork:
    """What a unit of work carries besides its transaction."""

    __slots__ = ("_after_commit", "pending")

    def __init__(self) -> None:
        self._after_commit: list[Callable[[], None]] = []
        #: Per-feature lists of work collected until commit (e.g. pokes, merged per org at commit).
        self.pending: dict[str, list[Any]] = {}

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once this unit has committed; never after a rollback.

        Callbacks must be quick and must not raise (an error is logged, not
        raised: the data is committed, the caller must see success).
        """
        self._after_commit.append(callback)

    def _mark(self) -> tuple[int, dict[str, int]]:
        return len(self._after_commit), {k: len(v) for k, v in self.pending.items()}

    def _forget_since(self, mark: tuple[int, dict[str, int]]) -> None:
        callbacks, sizes = mark
        del self._after_commit[callbacks:]
        for key in list(self.pending):
            if key in sizes:
                del self.pending[key][sizes[key]:]
            else:
                del self.pending[key]

    def _committed(self) -> None:
        for callback in self._after_commit:
            try:
                callback()
            except Exception:
                log.exception("after-commit callback failed")


_current: ContextVar[UnitOfWork | None] = ContextVar("fieldsales_unit_of_work", default=None)


def current_unit() -> UnitOfWork:
    """The open unit of work; writes outside one are a programming error."""
    unit = _current.get()
    if unit is None:
        raise RuntimeError("no open unit_of_work(): wrap the write in `async with unit_of_work():`")
    return unit


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[Any]:
    """``async with unit_of_work() as tx:`` (``tx`` is Piccolo's transaction)."""
    engine = current_engine()
    if _current.get() is not None:  # nested: Piccolo hands back the outer transaction
        async with engine.transaction() as tx:
            yield tx
        return
    unit = UnitOfWork()
    token = _current.set(unit)
    try:
        if is_sqlite(engine):
            # Writers of this process queue in order on a lock instead of polling SQLite's busy
            # handler (which sleeps and retries: seconds of p95 with 20 phones pushing at once).
            async with _writer_lock(engine), engine.transaction(transaction_type=TransactionType.immediate) as tx:
                yield tx
        else:
            async with engine.transaction() as tx:
                yield tx
    finally:
        _current.reset(token)
    unit._committed()


def _writer_lock(engine: Any) -> asyncio.Lock:
    lock = getattr(engine, "_fieldsales_writer_lock", None)
    if lock is None:
        lock = asyncio.Lock()
        engine._fieldsales_writer_lock = lock
    return lock


class Savepoint:
    """A savepoint of the current unit of work whose rollback also drops the work registered since."""

    def __init__(self, inner: Any, unit: UnitOfWork) -> None:
        self._inner, self._unit, self._mark = inner, unit, unit._mark()

    async def release(self) -> None:
        await self._inner.release()

    async def rollback_to(self) -> None:
        await self._inner.rollback_to()
        self._unit._forget_since(self._mark)


async def savepoint() -> Savepoint:
    """Use instead of Piccolo's ``transaction.savepoint()`` inside ``unit_of_work()``.

    Versions taken after a savepoint are handed out again once it is rolled
    back, so a poke recorded after it must not be published.
    """
    unit = current_unit()
    return Savepoint(await current_engine().current_transaction.get().savepoint(), unit)
