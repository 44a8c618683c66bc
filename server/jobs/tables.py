from piccolo.columns import UUID, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table


class JobRun(Table, tablename="job_runs"):
    """One window of one job: the claim that makes it run once across processes, and its outcome."""

    id = UUID(primary_key=True)
    job = Varchar(length=60)
    window_start = Timestamptz()
    window_end = Timestamptz()
    #: running, done or failed.
    state = Varchar(length=10, default="running")
    attempts = Integer(default=1)
    claimed_by = Varchar(length=64)
    #: A run still ``running`` after this was abandoned (its process died): another may take it over.
    lease_until = Timestamptz()
    started_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
    summary = Varchar(length=300, null=True, default=None)
    error = Text(null=True, default=None)
