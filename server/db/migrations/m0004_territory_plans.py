from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from server.db.migrations.sqlfile import run_sql_file

ID = "2026-11-27T17:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Territory balancing plans and offline map figures"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="fieldsales", description=DESCRIPTION)

    async def run():
        await run_sql_file("0004_territory_plans")

    manager.add_raw(run)
    return manager
