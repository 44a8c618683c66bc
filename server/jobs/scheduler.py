"""The scheduler: APScheduler 3.x firing each job's windows, each window run once across processes.

Windows are aligned to the job's interval since the Unix epoch, so every
process fires the same windows; ``server.jobs.claims`` lets one of them run
each. A run is a task of its own (one slow job does not hold up the others;
a job never overlaps itself in one process), bounded by the job's timeout. A
failed run is logged, recorded with its error, and retried after a pause
while the job has attempts left. ``nudge`` asks for an extra run soon (after
a sync brought new activity), debounced per job.

The API process runs one in its lifespan (the embedded default); with several
API processes, turn that off and run ``fieldsales scheduler`` (one or more).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from server.common.time import utcnow
from server.config import Settings
from server.db.tx import current_unit, unit_of_work
from server.jobs import catalog, claims
from server.jobs.registry import JobSpec, Window

log = logging.getLogger("fieldsales.jobs")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Seconds between a failed attempt and the next, times the attempt number.
RETRY_PAUSE_S = 10.0
#: A nudge runs the job this long after the first nudge (later nudges in between join it).
NUDGE_DELAY_S = 5.0

_running: set[Scheduler] = set()


def window_at(spec: JobSpec, moment: datetime) -> Window:
    """The window of ``spec`` that contains ``moment``."""
    seconds = int((moment - EPOCH).total_seconds()) // spec.every_s * spec.every_s
    start = EPOCH + timedelta(seconds=seconds)
    return Window(start, start + timedelta(seconds=spec.every_s))


def manual_window(spec: JobSpec, moment: datetime) -> Window:
    """A window of its own for a run by hand or a nudge: it never collides with a scheduled one."""
    return Window(moment, moment, manual=True)


async def run_window(spec: JobSpec, window: Window, worker: str) -> str:
    """Claim ``window`` and run it: ``done``, ``failed`` or ``skipped`` (another process has it)."""
    async with unit_of_work():
        attempt = await claims.claim(spec, window, worker)
    if attempt is None:
        return "skipped"
    try:
        summary = await asyncio.wait_for(spec.run(window), spec.timeout_s)
    except Exception as exc:  # any failure of a job is recorded and retried, never lost
        log.exception("job %s failed (window %s, attempt %d)", spec.name, window.start.isoformat(), attempt)
        async with unit_of_work():
            await claims.finish(spec, window, worker, error=f"{type(exc).__name__}: {exc}"[:2000])
        return "failed"
    async with unit_of_work():
        await claims.finish(spec, window, worker, summary=summary)
    log.info("job %s done (window %s): %s", spec.name, window.start.isoformat(), summary or "")
    return "done"


class Scheduler:
    def __init__(self, settings: Settings, jobs: dict[str, JobSpec] | None = None) -> None:
        self.jobs = catalog.load(settings.job_modules) if jobs is None else jobs
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:64]
        self._aps = AsyncIOScheduler(timezone=UTC)

    def start(self) -> None:
        for spec in self.jobs.values():
            self._aps.add_job(self._fire, IntervalTrigger(seconds=spec.every_s, start_date=EPOCH, timezone=UTC),
                              args=[spec.name], id=spec.name, name=spec.description, max_instances=1,
                              coalesce=True, misfire_grace_time=max(1, spec.every_s // 2))
        self._aps.start()
        _running.add(self)
        log.info("scheduler %s started: %s", self.worker, ", ".join(sorted(self.jobs)))

    def shutdown(self) -> None:
        _running.discard(self)
        self._aps.shutdown(wait=False)

    async def _fire(self, name: str, window: Window | None = None) -> None:
        spec = self.jobs[name]
        window = window or window_at(spec, utcnow())
        if await run_window(spec, window, self.worker) == "failed":
            self._retry(spec, window)

    def _retry(self, spec: JobSpec, window: Window) -> None:
        """Try the window again after a pause; the claim decides whether attempts remain."""
        when = utcnow() + timedelta(seconds=RETRY_PAUSE_S)
        self._aps.add_job(self._fire, DateTrigger(when, timezone=UTC), args=[spec.name, window],
                          id=f"{spec.name}:retry:{window.start.isoformat()}", replace_existing=True)

    def nudge(self, name: str) -> None:
        spec = self.jobs.get(name)
        if spec is None or self._aps.get_job(f"{name}:nudge") is not None:
            return
        when = utcnow() + timedelta(seconds=NUDGE_DELAY_S)
        self._aps.add_job(self._fire, DateTrigger(when, timezone=UTC), args=[name, manual_window(spec, when)],
                          id=f"{name}:nudge")


#: Jobs that turn new activity into figures: nudged after every commit that brings activity.
FOLLOW_ACTIVITY = ("metrics_rollup", "leaderboards")


def nudge(*names: str) -> None:
    """Ask this process's scheduler for a run of ``names`` soon (no-op without one; others run on time)."""
    for scheduler in list(_running):
        for name in names:
            scheduler.nudge(name)


def nudge_after_commit() -> None:
    """Inside a unit of work that stored activity: nudge the jobs that follow it once it commits."""
    current_unit().after_commit(lambda: nudge(*FOLLOW_ACTIVITY))


@asynccontextmanager
async def run_scheduler(settings: Settings) -> AsyncIterator[Scheduler | None]:
    """A scheduler running beside the API for as long as the block lasts (off: ``scheduler_in_process``)."""
    if not settings.scheduler_in_process:
        yield None
        return
    scheduler = Scheduler(settings)
    scheduler.start()
    try:
        yield scheduler
    finally:
        scheduler.shutdown()
