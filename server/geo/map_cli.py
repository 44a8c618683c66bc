"""``fieldsales territories refresh-figures``: rebuild the figures layer of the offline maps now.

A command without a group, registered by the CLI's ``territories`` group:
``territories.add_command(refresh_map_figures, "refresh-figures")``. The
scheduled job calls :func:`server.geo.mapkit.refresh_figures` the same way.
"""

from __future__ import annotations

import click

from server.cli import run_db


@click.command("refresh-figures")
@click.option("--org", "org", default=None, help="organisation slug or id (default: every organisation)")
@run_db
async def refresh_map_figures(settings, org: str | None) -> None:
    """Recompute the per-cell figures (accounts, potential, visits this month) of every territory;
    only rows whose content changed are written."""
    from server.geo.mapkit import refresh_figures
    from server.orgs.service import find_org
    from server.orgs.tables import Organisation

    if org is None:
        orgs = [(r["id"], r["slug"]) for r in
                await Organisation.select(Organisation.id, Organisation.slug).order_by(Organisation.slug)]
    else:
        found = await find_org(org)
        if found is None:
            raise click.ClickException(f"no organisation {org!r}")
        orgs = [found]
    for org_id, slug in orgs:
        written = await refresh_figures(org_id)
        click.echo(f"{slug}: {written} territor{'y' if written == 1 else 'ies'} updated")
