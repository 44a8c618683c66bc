from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from server.db.migrations.sqlfile import run_sql_file

ID = "2026-11-27T19:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Verified check-ins: account location history, device clock offsets"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="fieldsales", description=DESCRIPTION)

    async def run():
        await run_sql_file("0005_checkins")

    manager.add_raw(run)
    return manager
