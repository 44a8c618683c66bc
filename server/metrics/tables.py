"""Daily metrics per rep and the rollup's watermarks.

``rep_day_metrics`` has the composite key (org_id, rep_id, day) and is written
and read only with set-based SQL (``server.metrics.rollup``, ``server.metrics.query``);
Piccolo's implicit ``id`` column is not part of the table, so never select it
through Piccolo. ``day`` is the date in the organisation's time zone. The
measure columns are ``server.metrics.definitions.MEASURES`` (migration 0007).
"""

from piccolo.columns import UUID, BigInt, Date, Varchar
from piccolo.table import Table


class RepDayMetrics(Table, tablename="rep_day_metrics"):
    org_id = UUID()
    rep_id = UUID()
    day = Date()
    visits = BigInt(default=0)
    visits_verified = BigInt(default=0)
    calls = BigInt(default=0)
    calls_connected = BigInt(default=0)
    calls_verified = BigInt(default=0)
    texts = BigInt(default=0)
    emails = BigInt(default=0)
    meetings = BigInt(default=0)
    appointments_set = BigInt(default=0)
    leads_created = BigInt(default=0)
    leads_converted = BigInt(default=0)
    opps_created = BigInt(default=0)
    opps_won = BigInt(default=0)
    opps_lost = BigInt(default=0)
    dwell_n = BigInt(default=0)
    travel_n = BigInt(default=0)
    opps_won_cents = BigInt(default=0)
    opps_lost_cents = BigInt(default=0)
    dwell_s = BigInt(default=0)
    travel_s = BigInt(default=0)
    connected_call_s = BigInt(default=0)


class MetricWatermark(Table, tablename="metric_watermarks"):
    """The highest ``version`` of a source table (activities, leads, ...) already rolled up, per org."""

    org_id = UUID()
    source = Varchar(length=20)
    last_version = BigInt(default=0)
