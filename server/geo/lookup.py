"""Which territory covers a point: the lookup leads are placed by (accounts: ``server.geo.placement``)."""

from __future__ import annotations

import uuid

from server.geo.placement import CellIndex
from server.geo.tables import Territory


async def territory_for(org_id: uuid.UUID, cell: str) -> uuid.UUID | None:
    """The current primary territory whose (compacted) cells cover ``cell``, if any.

    The lowest id wins should two primary territories ever overlap.
    """
    rows = await Territory.select(Territory.id, Territory.cells).where(
        (Territory.org_id == org_id) & Territory.deleted_at.is_null()
        & (Territory.layer == "primary") & (Territory.overlay == False)
        & Territory.effective_to.is_null()
    ).output(load_json=True)
    covering = CellIndex((r["id"], r["cells"] or ()) for r in rows).covering(cell)
    return covering[0] if covering else None
