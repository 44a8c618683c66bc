"""The catalogue of scheduled jobs: a name, how often, and the service call it makes.

A job is thin: an ``async def run(window: Window) -> str | None`` that calls
services (each opening its own ``unit_of_work()`` per step) and returns a
one-line summary for the logs and ``fieldsales jobs list``. It must be
idempotent for its window: running it twice, or again after it was killed
midway, gives the same rows. The scheduler (``server.jobs.scheduler``) runs
each window once across every process (``server.jobs.claims``).

Feature packages declare their jobs with :func:`job` in a ``jobs`` module that
``server.jobs.catalog`` imports.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import msgspec


class Window(msgspec.Struct, frozen=True):
    """The stretch of time one run covers: ``[start, end)``, aligned to the job's interval."""

    start: datetime
    end: datetime
    #: True when started by hand (``fieldsales jobs run``) rather than by the clock.
    manual: bool = False


JobFn = Callable[[Window], Awaitable[str | None]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    run: JobFn
    #: Seconds between windows; windows are aligned to multiples of it since the Unix epoch (UTC).
    every_s: int
    description: str
    #: A run that takes longer is cancelled and counted as failed.
    timeout_s: float = 600.0
    #: Attempts per window (the first included) before the window is given up.
    attempts: int = 3


JOBS: dict[str, JobSpec] = {}


def job(name: str, *, every_s: int, description: str, timeout_s: float = 600.0,
        attempts: int = 3) -> Callable[[JobFn], JobFn]:
    """Register ``fn`` as the job ``name`` (names are unique; re-registering replaces, for reloads)."""
    if every_s < 1:
        raise ValueError("a job runs at most once a second")

    def register(fn: JobFn) -> JobFn:
        JOBS[name] = JobSpec(name, fn, every_s, description, timeout_s, attempts)
        return fn

    return register
