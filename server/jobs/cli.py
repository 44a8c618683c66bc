"""``fieldsales scheduler`` and ``fieldsales jobs list|run NAME``. Registered by ``server.cli``."""

from __future__ import annotations

import asyncio
import signal

import click

from server.cli import run_db


@click.command("scheduler")
@run_db
async def scheduler(settings) -> None:
    """Run the job scheduler on its own (with FIELDSALES_SCHEDULER_IN_PROCESS=0 on the API processes).

    Any number may run against one database: each job window runs once.
    """
    from server.jobs.scheduler import Scheduler

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = Scheduler(settings)
    runner.start()
    click.echo(f"scheduler {runner.worker} running: {', '.join(sorted(runner.jobs))}")
    try:
        await stop.wait()
    finally:
        runner.shutdown()


@click.group()
def jobs() -> None:
    """Scheduled jobs: what there is, and running one by hand."""


@jobs.command("list")
@run_db
async def jobs_list(settings) -> None:
    """Every job, how often it runs, and how its latest window went."""
    from server.db.tx import unit_of_work
    from server.jobs import catalog, claims

    specs = catalog.load(settings.job_modules)
    async with unit_of_work():
        last = await claims.last_runs()
    for name, spec in sorted(specs.items()):
        run = last.get(name)
        state = "never run" if run is None else (
            f"{run['state']} {run['window_start']} (attempt {run['attempts']}): {run['summary'] or run['error'] or ''}")
        click.echo(f"{name:20} every {spec.every_s:>6} s  {state}\n{'':20} {spec.description}")


@jobs.command("run")
@click.argument("name")
@run_db
async def jobs_run(settings, name: str) -> None:
    """Run job NAME now, in a window of its own (it does not take a scheduled window's place)."""
    from server.common.time import utcnow
    from server.jobs import catalog
    from server.jobs.scheduler import manual_window, run_window

    specs = catalog.load(settings.job_modules)
    if name not in specs:
        raise click.ClickException(f"no job {name!r}; jobs: {', '.join(sorted(specs))}")
    spec = specs[name]
    outcome = await run_window(spec, manual_window(spec, utcnow()), f"cli:{name}")
    click.echo(f"{name}: {outcome}")
    if outcome == "failed":
        raise SystemExit(1)
