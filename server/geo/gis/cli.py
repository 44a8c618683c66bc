"""``fieldsales gis``: publish territories and accounts to PostGIS, import boundary layers.

Registered in ``server/cli.py`` with ``main.add_command(gis)``. Each command
runs through ``server.cli.run_db`` (settings, the app's engine bound), imported
when the command runs so ``server.cli`` can import this module at its top;
SQLAlchemy and the services are imported then too, so ``fieldsales`` starts fast.
"""

from __future__ import annotations

import functools

import click

from server.geo.gis import DEFAULT_SCHEMA
from server.geo.gis.errors import GisError


def _command(fn):
    """Run ``fn(settings, ...)`` with the database bound; GisError is a clean non-zero exit."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from server.cli import run_db

        try:
            return run_db(fn)(*args, **kwargs)
        except GisError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


@click.group()
def gis() -> None:
    """PostGIS interop: publish territories and accounts as GIS layers, import boundary layers."""


@gis.command("publish")
@click.option("--org", "org", default=None, help="organisation slug or id")
@click.option("--all", "all_orgs", is_flag=True, help="publish every organisation")
@click.option("--schema", default=DEFAULT_SCHEMA, show_default=True, help="PostgreSQL schema of the layers")
@_command
async def publish_command(settings, org: str | None, all_orgs: bool, schema: str) -> None:
    """Write territories, their cells and accounts to PostGIS tables (replacing the org's rows)."""
    from server.geo.gis.orgs import all_orgs as every_org
    from server.geo.gis.orgs import find_org
    from server.geo.gis.publish import publish

    if bool(org) == all_orgs:
        raise click.UsageError("give either --org SLUG or --all")
    if settings.is_sqlite:
        raise GisError("GIS publishing needs PostgreSQL with PostGIS; this deployment uses SQLite "
                       "(set FIELDSALES_DATABASE_URL to a PostgreSQL database)")
    orgs = await every_org() if all_orgs else [await find_org(org or "")]
    for p in await publish(settings.database_url, orgs, schema):
        click.echo(f"{p.org.slug}: {p.territories} territories, {p.cells} territory cells, "
                   f"{p.accounts} accounts -> {schema}.territories, {schema}.territory_cells, "
                   f"{schema}.accounts ({p.seconds:.1f} s)")
        for warning in p.warnings:
            click.echo(f"  warning: {warning}", err=True)


@gis.command("import")
@click.option("--table", "table", required=True, help="the boundary layer, SCHEMA.TABLE")
@click.option("--name-column", required=True, help="column naming each boundary (the territory name)")
@click.option("--geom-column", default=None, help="geometry column (default: the table's only one)")
@click.option("--org", "org", required=True, help="organisation slug or id")
@click.option("--layer", default="primary", show_default=True, help="territory layer")
@click.option("--overlay", is_flag=True, help="the territories may overlap others (overlay layer)")
@click.option("--resolution", type=click.IntRange(4, 9), default=None,
              help="H3 resolution of the territories' cells (default: the service's)")
@click.option("--name-like", default=None, help="only rows whose name matches this LIKE pattern (case-insensitive)")
@click.option("--dry-run", is_flag=True, help="check and report, write nothing")
@_command
async def import_command(settings, table: str, name_column: str, geom_column: str | None, org: str,
                         layer: str, overlay: bool, resolution: int | None, name_like: str | None,
                         dry_run: bool) -> None:
    """Create a territory from each row of a PostGIS boundary layer (ZIP areas, counties...)."""
    from server.geo.gis.boundaries import import_boundaries, read_boundaries
    from server.geo.gis.orgs import admin_scope, find_org

    if settings.is_sqlite:
        raise GisError("importing a boundary layer needs PostgreSQL with PostGIS; this deployment "
                       "uses SQLite")
    found = await find_org(org)
    scope = await admin_scope(found)
    source = await read_boundaries(settings.database_url, table, name_column, geom_column, name_like)
    for name, reason in source.skipped:
        click.echo(f"warning: {name}: skipped, {reason}", err=True)
    for b in source.boundaries:
        if b.repaired:
            click.echo(f"warning: {b.name}: invalid geometry repaired ({b.repaired})", err=True)
    result = await import_boundaries(scope, source.boundaries, layer=layer, overlay=overlay,
                                     resolution=resolution, dry_run=dry_run)
    verb = "would create" if dry_run else "created"
    for name, territory_id in result.created:
        click.echo(f"{verb}: {name}" + (f" ({territory_id})" if territory_id else ""))
    for name, reason in result.skipped:
        click.echo(f"skipped: {name}: {reason}")
    click.echo(f"{source.table}: {len(result.created)} territories {verb}, "
               f"{len(result.skipped) + len(source.skipped)} skipped"
               + (" (dry run: nothing written)" if dry_run else ""))


if __name__ == "__main__":  # ``python -m server.geo.gis.cli`` works before registration too
    gis()
