from __future__ import annotations

import msgspec
from litestar import Response, get

from server.db.engine import current_engine
from server.db.migrate import pending


class Health(msgspec.Struct, omit_defaults=True):
    status: str
    database: str | None = None
    pending_migrations: list[str] | None = None


@get("/health/live", operation_id="health_live", tags=["operations"], sync_to_thread=False)
def live() -> Health:
    """The process is up. No I/O."""
    return Health(status="ok")


@get("/health/ready", operation_id="health_ready", tags=["operations"])
async def ready() -> Response[Health]:
    """The database answers and its schema is current; 503 otherwise."""
    engine = current_engine()
    try:
        todo = await pending()  # reads the migration table: proves the database answers
    except Exception as exc:  # any failure to reach the database means not ready
        return Response(Health(status="unavailable", database=type(exc).__name__), status_code=503)
    if todo:
        return Response(Health(status="migrations_pending", database=engine.engine_type,
                               pending_migrations=todo), status_code=503)
    return Response(Health(status="ok", database=engine.engine_type))
