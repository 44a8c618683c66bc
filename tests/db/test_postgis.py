"""The PostgreSQL lane has PostGIS (installed by scripts/test.sh), for the GIS interop."""

import os

import pytest

from server.db.engine import current_engine


async def test_postgis_is_available_on_postgres(db):
    if db.is_sqlite:
        return
    rows = await current_engine().run_ddl(
        "SELECT extversion FROM pg_extension WHERE extname = 'postgis'"
    )
    if not rows and os.environ.get("CI", "").lower() != "true":
        pytest.skip("PostGIS not installed here; scripts/test.sh installs it (required in CI)")
    assert rows, "PostGIS is missing from the test databases"
    assert rows[0]["extversion"].startswith("3.")
