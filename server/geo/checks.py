"""What is wrong with an org's territories: overlaps within a layer, holes, accounts outside every one."""

from __future__ import annotations

import uuid
from collections import defaultdict
from itertools import combinations

from piccolo.querystring import QueryString

from server.access.scope import Scope
from server.common.errors import Forbidden
from server.db.engine import read_values
from server.db.ids import as_uuid
from server.geo.cells import cell_to_parent, resolution_of
from server.geo.coverage import holes, overlap, size_at
from server.geo.schemas import Checks, Hole, Outside, Overlap
from server.geo.tables import Territory

SAMPLE = 20
OUTSIDE_SQL = ("SELECT id FROM accounts a WHERE a.org_id = {} AND a.deleted_at IS NULL AND a.h3_cell IS NOT NULL "
               "AND NOT EXISTS (SELECT 1 FROM territory_accounts t WHERE t.account_id = a.id "
               "AND t.valid_to IS NULL) ORDER BY id")
ACCOUNT_CELLS_SQL = "SELECT h3_cell FROM accounts WHERE org_id = {} AND deleted_at IS NULL AND h3_cell IS NOT NULL"


async def _layers(org_id: uuid.UUID, layer: str | None) -> dict[str, list[dict]]:
    where = (Territory.org_id == org_id) & Territory.deleted_at.is_null() & Territory.effective_to.is_null()
    if layer is not None:
        where = where & (Territory.layer == layer)
    rows = await Territory.select(Territory.id, Territory.layer, Territory.overlay, Territory.cells).where(
        where).order_by(Territory.id).output(load_json=True)
    out: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        out[row["layer"]].append(row)
    return out


def layer_overlaps(layer: str, territories: list[dict]) -> list[Overlap]:
    out = []
    plain = [t for t in territories if not t["overlay"]]
    for a, b in combinations(plain, 2):
        shared = overlap(a["cells"], b["cells"])
        if shared:
            finest = max(resolution_of(c) for c in [*a["cells"], *b["cells"]])
            out.append(Overlap(layer, [a["id"], b["id"]], size_at(shared, finest), shared[:SAMPLE]))
    return out


async def run_checks(scope: Scope, layer: str | None = None) -> Checks:
    """The checks report for a layer (or every layer); managers and admins only."""
    if not (scope.principal.is_admin or scope.principal.is_manager):
        raise Forbidden("only managers and admins check territories")
    layers = await _layers(scope.org_id, layer)
    found_overlaps: list[Overlap] = []
    found_holes: list[Hole] = []
    account_cells = [c for c, in await read_values(QueryString(ACCOUNT_CELLS_SQL, scope.org_id))]
    for name, territories in sorted(layers.items()):
        found_overlaps += layer_overlaps(name, territories)
        union = {c for t in territories for c in t["cells"]}
        for outline, inside in holes(union):
            hole, res = set(inside), resolution_of(inside[0])  # a hole's cells share one resolution
            found_holes.append(Hole(name, outline, len(inside),
                                    sum(1 for c in account_cells if cell_to_parent(c, res) in hole)))
    outside = [as_uuid(r[0]) for r in await read_values(QueryString(OUTSIDE_SQL, scope.org_id))]
    return Checks(found_overlaps, found_holes, Outside(len(outside), outside[:SAMPLE]))
