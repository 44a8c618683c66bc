from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from server.db.migrations.sqlfile import run_sql_file

ID = "2026-11-27T21:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Contest lifecycle: grace period, frozen results, adjustments; renamed statuses"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="fieldsales", description=DESCRIPTION)

    async def run():
        await run_sql_file("0008_contests")

    manager.add_raw(run)
    return manager
