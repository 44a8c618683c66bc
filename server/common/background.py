"""Background workers in this process: woken by commits that leave them work, else polling.

The outbox sender and the push sender work the same way: rounds of
claim-send-record until nothing is due, then a sleep that ends early when a
commit in this process queued something (:class:`Wakeups`), or after a poll
interval (work queued by other processes). :func:`in_background` runs such a
loop beside the API for as long as the app lives, and lets the round in
flight finish on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

log = logging.getLogger("fieldsales.background")

#: Seconds a stopping worker gets to finish its round before it is cancelled.
STOP_GRACE_S = 10.0


class Wakeups:
    """The events of this process's workers of one kind; a commit that queued work sets them all."""

    def __init__(self) -> None:
        self._events: set[asyncio.Event] = set()

    def wake(self) -> None:
        for event in list(self._events):
            event.set()

    @contextmanager
    def listening(self) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        self._events.add(event)
        try:
            yield event
        finally:
            self._events.discard(event)


async def run_rounds(round_: Callable[[], Awaitable[int]], wakeups: Wakeups, stop: asyncio.Event,
                     poll_s: float, name: str) -> None:
    """``round_()`` (returns items handled) until ``stop``; sleeps while there is nothing to do."""
    with wakeups.listening() as wakeup:
        while not stop.is_set():
            wakeup.clear()  # before the round: a commit during it wakes the next wait
            try:
                handled = await round_()
            except Exception:  # a failed round (database away) must not end the worker
                log.exception("%s round failed; trying again shortly", name)
                handled = 0
            if handled:
                continue
            waits = [asyncio.ensure_future(wakeup.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waits, timeout=poll_s, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()


@asynccontextmanager
async def in_background(run: Callable[[asyncio.Event], Awaitable[None]], name: str) -> AsyncIterator[None]:
    """``run(stop)`` as a task for as long as the block lasts; on exit ``stop`` is set and the task awaited."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(stop), name=name)
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=STOP_GRACE_S)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
