"""Which territory covers a point: the lookup leads (and later accounts) are placed by."""

from __future__ import annotations

import uuid

from server.geo.cells import POINT_RESOLUTION, cell_to_parent
from server.geo.tables import Territory


async def territory_for(org_id: uuid.UUID, cell: str) -> uuid.UUID | None:
    """The current primary territory whose (compacted) cells cover ``cell``, if any.

    Territories are few per org and their cells are stored compacted as JSON,
    so the lookup reads them and checks the cell's ancestors in Python; the
    lowest id wins should two primary territories ever overlap.
    """
    ancestors = {cell_to_parent(cell, r) for r in range(POINT_RESOLUTION + 1)}
    rows = await Territory.select(Territory.id, Territory.cells).where(
        (Territory.org_id == org_id) & Territory.deleted_at.is_null()
        & (Territory.layer == "primary") & (Territory.overlay == False)
        & Territory.effective_to.is_null()
    ).order_by(Territory.id).output(load_json=True)
    for row in rows:
        if ancestors.intersection(row["cells"] or ()):
            return row["id"]
    return None
