"""The territory balancer: a pure library (no database, no HTTP).

``balance(BalanceInput) -> Plan``. Method and targets: docs/TERRITORIES.md,
"Balancing"; figures: docs/benchmarks/balance.md. Modules: ``types`` (wire
Structs), ``cover`` (mixed-resolution cells), ``graph`` (edges, island joins,
gaps), ``partition`` (clusters under the gap cap, seats, METIS starts),
``polish`` (local search), ``assign`` (Hungarian matchings), ``report``
(figures), ``plan`` (the pipeline), ``baseline`` (k-means, for comparison).
"""

from server.geo.balance.plan import balance
from server.geo.balance.types import (
    BalanceError,
    BalanceInput,
    Demand,
    Lump,
    Plan,
    RemoteCluster,
    Rep,
    Report,
    TerritoryResult,
)

__all__ = ["BalanceError", "BalanceInput", "Demand", "Lump", "Plan", "RemoteCluster", "Rep",
           "Report", "TerritoryResult", "balance"]
