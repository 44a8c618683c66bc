"""The scheduler: aligned windows, one run per window across processes, retries, and the CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from server.common.time import utcnow
from server.db.direct import execute, fetch
from server.db.tx import unit_of_work
from server.jobs import claims
from server.jobs.registry import JobSpec, Window
from server.jobs.scheduler import Scheduler, manual_window, run_window, window_at

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def spec_of(run, name="sample", every_s=60, attempts=3, timeout_s=5.0) -> JobSpec:
    return JobSpec(name, run, every_s, "a test job", timeout_s, attempts)


async def noop(window: Window) -> str:
    return "ok"


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
       st.sampled_from([1, 30, 60, 900, 3600, 86400]))
def test_a_moment_falls_in_exactly_one_aligned_window(moment, every_s):
    window = window_at(spec_of(noop, every_s=every_s), moment)
    assert window.start <= moment < window.end
    assert (window.end - window.start).total_seconds() == every_s
    assert int(window.start.timestamp()) % every_s == 0
    assert window_at(spec_of(noop, every_s=every_s), window.start) == window


async def run_rows(job: str = "sample") -> list[tuple]:
    async with unit_of_work():
        return await fetch("SELECT state, attempts, summary, error FROM job_runs WHERE job = ? ORDER BY started_at",
                           [job])


async def test_a_window_runs_once_and_a_failure_is_retried_until_attempts_run_out(db):
    calls = []

    async def flaky(window: Window) -> str:
        calls.append(window.start)
        if len(calls) < 3:
            raise RuntimeError(f"boom {len(calls)}")
        return "third time lucky"

    spec = spec_of(flaky, attempts=3)
    window = window_at(spec, utcnow())
    assert await run_window(spec, window, "a") == "failed"
    assert await run_rows() == [("failed", 1, None, "RuntimeError: boom 1")]
    assert await run_window(spec, window, "b") == "failed"  # another process takes the retry over
    assert await run_window(spec, window, "a") == "done"
    assert await run_rows() == [("done", 3, "third time lucky", None)]
    assert await run_window(spec, window, "b") == "skipped"  # done windows are not run again
    assert len(calls) == 3

    async def hopeless(window: Window) -> str:
        raise ValueError("no")

    always = spec_of(hopeless, name="hopeless", attempts=2)
    assert [await run_window(always, window, "a") for _ in range(3)] == ["failed", "failed", "skipped"]


async def test_a_run_whose_process_died_is_taken_over_after_its_lease(db):
    spec = spec_of(noop, timeout_s=1)
    window = window_at(spec, utcnow())
    async with unit_of_work():
        assert await claims.claim(spec, window, "dead") == 1  # claimed, then the process was killed
    assert await run_window(spec, window, "alive") == "skipped"  # still within its lease
    async with unit_of_work():
        later = utcnow() + timedelta(seconds=spec.timeout_s + 61)
        assert await claims.claim(spec, window, "alive", now=later) == 2
        await claims.finish(spec, window, "alive", summary="ok")
    assert await run_rows() == [("done", 2, "ok", None)]


async def test_a_late_result_from_a_run_taken_over_records_nothing(db):
    spec = spec_of(noop, timeout_s=1)
    window = window_at(spec, utcnow())
    async with unit_of_work():
        await claims.claim(spec, window, "slow")
        await claims.claim(spec, window, "fast", now=utcnow() + timedelta(seconds=120))
        await claims.finish(spec, window, "fast", summary="fast won")
        await claims.finish(spec, window, "slow", error="too late")
    assert await run_rows() == [("done", 2, "fast won", None)]


async def test_a_timeout_counts_as_a_failure(db):
    async def slow(window: Window) -> str:
        await asyncio.sleep(5)
        return "never"

    spec = spec_of(slow, timeout_s=0.2)
    assert await run_window(spec, window_at(spec, utcnow()), "a") == "failed"
    [(state, _, _, error)] = await run_rows()
    assert state == "failed" and error.startswith("TimeoutError")


async def test_manual_runs_do_not_take_a_scheduled_window(db):
    spec = spec_of(noop)
    now = utcnow()
    assert await run_window(spec, manual_window(spec, now), "cli") == "done"
    assert await run_window(spec, window_at(spec, now), "scheduler") == "done"
    assert len(await run_rows()) == 2


async def test_one_slow_job_does_not_stop_the_others(db, settings):
    fast_runs = []

    async def slow(window: Window) -> str:
        await asyncio.sleep(3)
        return "slow"

    async def fast(window: Window) -> str:
        fast_runs.append(window.start)
        return "fast"

    scheduler = Scheduler(settings, jobs={"slow": spec_of(slow, "slow", every_s=1, timeout_s=10),
                                          "fast": spec_of(fast, "fast", every_s=1)})
    scheduler.start()
    try:
        await asyncio.sleep(3.5)
    finally:
        scheduler.shutdown()
    assert len(set(fast_runs)) >= 3


def _scheduler(db_url: str, data_dir, name: str) -> subprocess.Popen:
    env = {**os.environ, "FIELDSALES_DATABASE_URL": db_url, "FIELDSALES_SECRET_KEY": "k" * 48,
           "FIELDSALES_DATA_DIR": str(data_dir), "FIELDSALES_JOB_MODULES": "tests.jobs.probe_jobs"}
    with open(data_dir / f"{name}.log", "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "server", "scheduler"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)


async def test_two_scheduler_processes_run_each_window_once(db, tmp_path):
    async with unit_of_work():
        await execute("CREATE TABLE job_probe (window_start VARCHAR(40) NOT NULL, pid INTEGER NOT NULL)")
    procs = [_scheduler(db.url, tmp_path, f"scheduler{i}") for i in range(2)]
    try:
        await asyncio.sleep(7)
        assert all(p.poll() is None for p in procs), [(tmp_path / f"scheduler{i}.log").read_text() for i in range(2)]
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(15)
    async with unit_of_work():
        rows = await fetch("SELECT window_start, pid FROM job_probe")
        [(claimed, done)] = await fetch(
            "SELECT count(*), sum(CASE WHEN state = 'done' THEN 1 ELSE 0 END) FROM job_runs WHERE job = 'probe'")
    per_window = Counter(w for w, _ in rows)
    assert len(per_window) >= 4, rows
    assert max(per_window.values()) == 1, "a window ran twice"
    # Every run recorded done wrote its row; a window claimed as the processes stopped may not have.
    assert done <= len(per_window) <= claimed
    assert {pid for _, pid in rows} <= {p.pid for p in procs}


def test_jobs_cli_lists_and_runs(db, tmp_path):
    env = {**os.environ, "FIELDSALES_DATABASE_URL": db.url, "FIELDSALES_SECRET_KEY": "k" * 48,
           "FIELDSALES_DATA_DIR": str(tmp_path)}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "server", *args], cwd=ROOT, env=env, check=False,
                              capture_output=True, text=True, timeout=60)

    listed = cli("jobs", "list")
    assert listed.returncode == 0, listed.stderr
    for name in ("territories_place", "map_figures", "sync_horizon"):
        assert name in listed.stdout
    ran = cli("jobs", "run", "sync_horizon")
    assert ran.returncode == 0 and "sync_horizon: done" in ran.stdout, ran.stderr
    assert "done" in cli("jobs", "list").stdout
    unknown = cli("jobs", "run", "nope")
    assert unknown.returncode != 0 and "no job 'nope'" in unknown.stderr
