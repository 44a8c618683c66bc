"""Apply and inspect migrations (Piccolo's runner, quietly)."""

from __future__ import annotations

import contextlib
import io

from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.apps.migrations.commands.forwards import ForwardsMigrationManager
from piccolo.apps.migrations.tables import Migration

APP = "fieldsales"


class MigrationFailed(RuntimeError):
    pass


def _known_ids() -> list[str]:
    manager = BaseMigrationManager()
    config = manager.get_app_config(APP)
    return manager.get_migration_ids(
        manager.get_migration_modules(config.resolved_migrations_folder_path)
    )


async def pending() -> list[str]:
    """Migrations not yet applied to the bound database."""
    if not await Migration.table_exists().run():
        return _known_ids()
    done = set(await Migration.get_migrations_which_ran(app_name=APP))
    return [i for i in _known_ids() if i not in done]


async def migrate() -> list[str]:
    """Apply pending migrations; return the ids applied."""
    todo = await pending()
    if not todo:
        return []
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = await ForwardsMigrationManager(app_name=APP).run()
    if not result.success:
        raise MigrationFailed(result.message or out.getvalue())
    return todo
