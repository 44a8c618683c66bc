from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from server.db.migrations.sqlfile import run_sql_file

ID = "2026-11-27T21:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Push notifications: the push outbox"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="fieldsales", description=DESCRIPTION)

    async def run():
        await run_sql_file("0009_push")

    manager.add_raw(run)
    return manager
