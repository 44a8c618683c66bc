"""The ``fieldsales`` command: serve, migrate, demo data, orgs and users.

Each command binds the engine from settings and commits per step.
"""

from __future__ import annotations

import asyncio
import functools
import sys

import click

import server.db  # noqa: F401
from server.config import load_settings
from server.db.engine import bind, make_engine, start, stop
from server.geo.gis.cli import gis


def run_db(fn):
    """Run an async command body with the database bound, then release it."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        settings = load_settings()

        async def main():
            engine = bind(make_engine(settings.database_url))
            await start(engine, pool_size=4)
            try:
                return await fn(settings, *args, **kwargs)
            finally:
                await stop(engine)

        return asyncio.run(main())

    return wrapper


@click.group()
def main() -> None:
    """fieldsales: backend for mobile field-sales teams."""


@main.command()
@run_db
async def migrate(settings) -> None:
    """Apply pending database migrations."""
    from server.db.migrate import migrate as apply

    done = await apply()
    click.echo(f"applied {len(done)} migration(s)" + (f": {', '.join(done)}" if done else ""))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Apply pending migrations, then serve the API."""
    migrate.callback()  # type: ignore[misc]
    if workers > 1 and load_settings().is_sqlite:
        click.echo("note: on SQLite each worker has its own live-update broker: a phone's stream is poked "
                   "only for writes its worker served (phones still pull on their schedule); "
                   "use PostgreSQL to run several workers", err=True)
    _serve(host, port, workers)


#: On SIGTERM, requests still running after this long are cancelled. Live-update streams
#: (``GET /api/v1/sync/events``) never finish on their own: without a limit a deploy would wait
#: for every phone to disconnect. Cut, they reconnect to the new process.
SHUTDOWN_GRACE_S = 5


def _serve(host: str, port: int, workers: int) -> None:
    import uvicorn

    click.echo(f"fieldsales API on http://{host}:{port}  (docs: http://{host}:{port}/schema/swagger)")
    uvicorn.run("server.asgi:app", host=host, port=port, workers=workers, log_level="warning",
                access_log=False, timeout_graceful_shutdown=SHUTDOWN_GRACE_S)


@main.command("demo-data")
@click.option("--reps", default=20, show_default=True, type=click.IntRange(1, 2000))
@click.option("--accounts", default=5000, show_default=True, type=click.IntRange(1, 2_000_000))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--days", default=180, show_default=True, type=click.IntRange(1, 730))
@run_db
async def demo_data(settings, reps: int, accounts: int, seed: int, days: int) -> None:
    """Create a demo organisation from real geography, with 180 days of activity."""
    from server.db.migrate import migrate as apply

    await apply()
    summary = await _load_demo(reps=reps, accounts=accounts, seed=seed, days=days)
    _print_logins(summary.logins)


async def _load_demo(**kwargs):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from server.demo import load_demo

    with Progress(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=False) as bar:
        tasks: dict[str, int] = {}

        def progress(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=total)
            bar.update(tasks[step], completed=done, total=total)

        return await load_demo(progress=progress, **kwargs)


def _print_logins(logins) -> None:
    click.echo("\nDemo logins:")
    for email, role, password in logins:
        click.echo(f"  {role:<8} {email:<40} {password}")


@main.command("create-org")
@click.option("--name", required=True)
@click.option("--slug", default=None)
@click.option("--timezone", default="UTC", show_default=True)
@click.option("--currency", default="USD", show_default=True)
@run_db
async def create_org(settings, name: str, slug: str | None, timezone: str, currency: str) -> None:
    """Create an organisation."""
    from server.db.tx import unit_of_work
    from server.orgs.service import create_org as create

    async with unit_of_work():
        org_id = await _domain(create(name, slug=slug, timezone=timezone, base_currency=currency))
    click.echo(str(org_id))


@main.command("create-user")
@click.option("--org", "org", required=True, help="organisation slug or id")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(["rep", "manager", "admin"]), default="rep", show_default=True)
@click.option("--name", "full_name", default="")
@click.option("--manager", "manager_email", default=None, help="email of the user's manager")
@click.option("--password", default=None, help="prompted for when absent")
@run_db
async def create_user(settings, org: str, email: str, role: str, full_name: str,
                      manager_email: str | None, password: str | None) -> None:
    """Create a user in an organisation."""
    from server.db.tx import unit_of_work
    from server.orgs.service import find_org
    from server.users.service import create_user as create
    from server.users.service import get_by_email

    found = await find_org(org)
    if not found:
        raise click.ClickException(f"no organisation {org!r}")
    manager_id = None
    if manager_email:
        manager = await get_by_email(manager_email)
        if not manager or manager["org_id"] != found[0]:
            raise click.ClickException(f"no user {manager_email} in {org}")
        manager_id = manager["id"]
    if password is None:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    async with unit_of_work():
        user_id = await _domain(create(found[0], email=email, password=password,
                                       full_name=full_name, role=role, manager_id=manager_id,
                                       password_time_cost=settings.password_time_cost))
    click.echo(str(user_id))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def up(host: str, port: int) -> None:
    """Migrate, load the demo organisation if the database is empty, print logins, serve."""
    logins = _prepare_demo()
    if logins:
        _print_logins(logins)
    _serve(host, port, 1)


@run_db
async def _prepare_demo(settings):
    from server.db.migrate import migrate as apply
    from server.orgs.tables import Organisation

    await apply()
    if await Organisation.count() == 0:
        click.echo("empty database: loading the demo organisation")
        return (await _load_demo()).logins
    from server.demo import existing_logins

    return await existing_logins()


@main.group()
def contract() -> None:
    """The mobile contract in clients/mobile-schema/ (OpenAPI and JSON Schemas)."""


@contract.command("write")
@click.argument("out_dir", default="clients/mobile-schema", type=click.Path(file_okay=False))
def contract_write(out_dir: str) -> None:
    """Regenerate the contract files."""
    from pathlib import Path

    from server.contract import write_contract

    changed = write_contract(Path(out_dir))
    click.echo(f"{len(changed)} file(s) changed" + (": " + ", ".join(changed) if changed else ""))


@contract.command("check")
@click.argument("out_dir", default="clients/mobile-schema", type=click.Path(file_okay=False))
def contract_check(out_dir: str) -> None:
    """Fail if the checked-in contract differs from what the server generates."""
    from pathlib import Path

    from server.contract import check_contract

    stale = check_contract(Path(out_dir))
    if stale:
        raise click.ClickException("stale contract files: " + ", ".join(stale)
                                   + "; run `fieldsales contract write`")
    click.echo("contract is current")


main.add_command(gis)


@main.group()
def territories() -> None:
    """Territory upkeep: re-place accounts, rebuild the offline map figures."""


@territories.command("place")
@click.option("--org", "org", required=True, help="organisation slug or id")
@run_db
async def territories_place(settings, org: str) -> None:
    """Re-place the org's accounts in the territories in force now (after an effective date passes)."""
    from server.db.tx import unit_of_work
    from server.geo.placement import place_accounts
    from server.orgs.service import find_org

    found = await find_org(org)
    if not found:
        raise click.ClickException(f"no organisation {org!r}")
    async with unit_of_work():
        placed = await place_accounts(found[0])
    click.echo(f"{placed.opened} placements opened, {placed.closed} closed, {placed.moved_accounts} accounts moved")


async def _domain(coro):
    from server.common.errors import DomainError

    try:
        return await coro
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None


from server.geo.map_cli import refresh_map_figures

territories.add_command(refresh_map_figures)

from server.comms.cli import outbox
from server.jobs.cli import jobs, scheduler

main.add_command(outbox)
main.add_command(scheduler)
main.add_command(jobs)

if __name__ == "__main__":
    sys.exit(main())
