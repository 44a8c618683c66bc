"""The Kinto half of the sync comparison: first pull and /batch pushes against Kinto on PostgreSQL.

    .venv/bin/python bench/kinto_side.py [--workers 1] [--page-size 1000] [--batch-size 100]
        [--pull-runs 3] [--single-batches 50] [--clients 20] [--seconds 10]
        [--layouts shared,per-device] [--load sql|api] [--seed 1] [--scale 1.0]
        [--pg-url postgresql://postgres@127.0.0.1:5432] [--quiet-limit 0.15] [--quiet-wait 60]
        [--reinstall] [--keep] [--time-cap 900]

What it does, in order (progress on stderr, the report on stdout):

1. Kinto and its WSGI server in their own virtualenv, ``var/bench/kinto-venv``
   (pinned: ``KINTO_PIN``, ``GRANIAN_PIN``), never in this project's venv.
   The server is Granian, which Kinto's current docs name for production
   ("Running with Granian", ``granian --interface wsgi app:application``; its
   Makefile and troubleshooting page call it the default, uWSGI/Gunicorn are
   the alternatives), with ``--workers N`` and Granian's defaults otherwise.
2. Database ``bench_kinto`` on the same PostgreSQL as fieldsales (dropped and
   recreated, UTC as Kinto's docs ask), a Kinto ini with the PostgreSQL
   storage, permission and cache backends and basic auth
   (``multiauth.policies = basicauth``, ``kinto.userid_hmac_secret``), then
   ``kinto migrate`` and Granian on a free port of 127.0.0.1.
3. Bucket ``bench``, collections ``accounts``, ``contacts``, ``activities``
   (and ``device-01`` ... for the per-device push layout) through the API,
   then ``sync_records.record_shapes(seed)`` (5,000 + 10,000 + 20,000
   records). ``--load sql`` (default) writes the rows Kinto's own create
   writes (``objects``, with ``last_modified`` from Kinto's trigger, and the
   creator's ``write`` entry in ``access_control_entries``) straight into
   PostgreSQL in about 2 s; ``--load api`` sends them through Kinto's
   ``POST /batch`` instead (about 5 minutes at Kinto's ~120-200 creates/s
   here). Then VACUUM ANALYZE and CHECKPOINT, so neither lands in a
   measurement. Setup is not measured.
4. Measures:
   a. first pull: the three collections one after the other through
      ``GET .../records?_since=0&_sort=last_modified&_limit=P``, following
      ``Next-Page``, one client (fresh connection each run); each run must
      return every record once. Best and median of ``--pull-runs``.
   b. pushes: ``POST /batch`` with B record creates (``POST .../records`` with
      a client-made id, as a phone sends them): one device alone (latency per
      batch), then ``--clients`` devices concurrently for ``--seconds``
      (closed loop, no think time) into the shared ``activities`` collection
      (layout ``shared``) and, for comparison, each into its own collection
      (layout ``per-device``).
   c. after each push phase: which pushed ids PostgreSQL actually holds,
      against the subresponse status Kinto returned for each (201 created,
      anything else), so a 201 for a record that was rolled back shows up.
   Before each phase the run waits (up to ``--quiet-wait`` s) until other
   processes use at most ``--quiet-limit`` of the two cores, and records what
   they used; the table warns when a phase started on a busy machine.
5. Prints a table and one JSON line ``{"kinto": {...}}``; stops the server and
   drops the database (``--keep`` keeps the database and the ini, and prints
   how to start the server on them again).

Only 127.0.0.1 is contacted; the run stops itself after ``--time-cap`` s.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import math
import os
import re
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

import asyncpg
import httpx
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    DEFAULT_PG_URL,
    HOST,
    ServerProcess,
    exit_on_sigterm,
    free_port,
    machine_note,
)
from bench._sync import cpu_ticks, log, machine_ticks, percentile
from bench.sync_records import COUNTS, activity_stream, record_shapes

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "var" / "bench" / "kinto-venv"
WORK = ROOT / "var" / "bench" / "kinto"
KINTO_PIN = "kinto[postgresql]==26.5.0"
GRANIAN_PIN = "granian==2.8.9"
DB_NAME = "bench_kinto"
BUCKET = "bench"
COLLECTIONS = tuple(COUNTS)  # accounts, contacts, activities
PUSH_COLLECTION = "activities"
LOAD_BATCH = 1000
USER = ("bench-rep", "bench-password")


# =============================================================================
# 1. The virtualenv
# =============================================================================
def venv_versions() -> dict[str, str]:
    """Installed versions of the packages that matter, read by the venv's own Python."""
    code = ("import json, importlib.metadata as m\n"
            "out = {}\n"
            "for n in ('kinto', 'granian', 'pyramid', 'SQLAlchemy', 'psycopg2-binary', 'zope.sqlalchemy'):\n"
            "    try: out[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(json.dumps(out))")
    py = VENV / "bin" / "python"
    if not py.exists():
        return {}
    done = subprocess.run([str(py), "-c", code], capture_output=True, text=True, check=False)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def ensure_venv(reinstall: bool = False) -> dict[str, str]:
    """Create ``VENV`` with the pinned Kinto and Granian unless it already has them."""
    want = {"kinto": KINTO_PIN.split("==")[1], "granian": GRANIAN_PIN.split("==")[1]}
    have = venv_versions()
    if not reinstall and all(have.get(k) == v for k, v in want.items()):
        return have
    log(f"creating {VENV.relative_to(ROOT)} with {KINTO_PIN}, {GRANIAN_PIN}")
    # `-m venv` from this venv builds on the base interpreter, not on our venv.
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                    KINTO_PIN, GRANIAN_PIN], check=True)
    have = venv_versions()
    if not all(have.get(k) == v for k, v in want.items()):
        raise RuntimeError(f"venv has {have}, wanted {want}")
    return have


# =============================================================================
# 2. Database, config, server
# =============================================================================
async def recreate_database(pg_url: str, name: str = DB_NAME) -> str:
    admin = await asyncpg.connect(f"{pg_url.rstrip('/')}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f"CREATE DATABASE \"{name}\" WITH ENCODING 'UTF8' TEMPLATE template0")
        await admin.execute(f"ALTER DATABASE \"{name}\" SET TIMEZONE TO 'UTC'")
    finally:
        await admin.close()
    return f"{pg_url.rstrip('/')}/{name}"


async def drop_database(pg_url: str, name: str = DB_NAME) -> None:
    admin = await asyncpg.connect(f"{pg_url.rstrip('/')}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


#: Kinto's own app.py (the one its docs say to run under Granian), verbatim in substance.
APP_PY = '''\
import configparser
import logging.config
import os

from kinto import main

ini_path = os.environ["KINTO_INI"]
logging.config.fileConfig(ini_path)
config = configparser.ConfigParser()
config.read(ini_path)
application = main(config.items("DEFAULT"), **dict(config.items("app:main")))
'''


def write_config(db_url: str, *, batch_max_requests: int) -> Path:
    """``WORK/kinto.ini`` (PostgreSQL backends, basic auth, WARNING logs) and ``WORK/app.py``."""
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "app.py").write_text(APP_PY)
    ini = WORK / "kinto.ini"
    ini.write_text(f"""\
# Written by bench/kinto_side.py; database {DB_NAME} on the benchmark's PostgreSQL.
[app:main]
use = egg:kinto
# No plugins: the admin UI, accounts and default bucket are not needed here.
kinto.includes =
kinto.storage_backend = kinto.core.storage.postgresql
kinto.storage_url = {db_url}
kinto.cache_backend = kinto.core.cache.postgresql
kinto.cache_url = {db_url}
kinto.permission_backend = kinto.core.permission.postgresql
kinto.permission_url = {db_url}
# Basic auth: any user:password pair is a user id (HMAC of it with this secret).
multiauth.policies = basicauth
kinto.userid_hmac_secret = {secrets.token_hex(32)}
kinto.bucket_create_principals = system.Authenticated
# Raised from 25 for the setup load ({LOAD_BATCH} creates per batch); the
# measured pushes send --batch-size creates per batch. Only a limit check.
kinto.batch_max_requests = {batch_max_requests}
# Pool sizes, paginate_by (none: the client's _limit, up to
# storage_max_fetch_size 10000) and everything else: Kinto's defaults.

[loggers]
keys = root, kinto

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[logger_kinto]
level = WARNING
handlers = console
qualname = kinto
propagate = 0

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(asctime)s %(levelname)-5.5s [%(name)s] %(message)s
""")
    return ini


def kinto_migrate(ini: Path) -> None:
    done = subprocess.run([str(VENV / "bin" / "kinto"), "migrate", "--ini", str(ini)],
                          capture_output=True, text=True, cwd=WORK, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"kinto migrate failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def granian_command(port: int, workers: int) -> list[str]:
    return [str(VENV / "bin" / "granian"), "--interface", "wsgi", "--host", HOST, "--port", str(port),
            "--workers", str(workers), "--log-level", "warning", "app:application"]


class KintoServer(ServerProcess):
    """Granian serving Kinto on a free port, in its own process group; stopped on exit."""

    exited_name, not_ready_name = "granian", "Kinto"
    ready_path = "/__heartbeat__"
    probe_timeout_s = 5.0
    stop_timeout_s = 15.0

    def __init__(self, ini: Path, *, workers: int = 1, ready_timeout_s: float = 60) -> None:
        self.ini = ini
        self.workers = workers
        self.ready_timeout_s = ready_timeout_s
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}/v1"
        self.log_path = WORK / "server.log"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Self:
        env = {**os.environ, "KINTO_INI": str(self.ini)}
        env.pop("VIRTUAL_ENV", None)
        self.spawn(granian_command(self.port, self.workers), cwd=WORK, env=env)
        return self

    def cpu_seconds(self) -> float:
        """User + system CPU of Granian and its workers so far."""
        return cpu_ticks(self.pids()) / os.sysconf("SC_CLK_TCK")


# =============================================================================
# 3. Buckets, collections, records
# =============================================================================
def new_client(base_url: str, connections: int = 1) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, auth=USER, timeout=120,
                             limits=httpx.Limits(max_connections=connections,
                                                 max_keepalive_connections=connections))


def records_path(collection: str) -> str:
    return f"/buckets/{BUCKET}/collections/{collection}/records"


def batch_body(collection: str, records: list[dict]) -> bytes:
    """A ``POST /batch`` of record creates; the client-made ``id`` travels in ``data``."""
    return msgspec.json.encode({"defaults": {"method": "POST", "path": records_path(collection)},
                                "requests": [{"body": {"data": r}} for r in records]})


async def post_batch(client: httpx.AsyncClient, collection: str, records: list[dict]) -> list[int]:
    """Subresponse statuses; raises on a non-200 answer for the batch itself."""
    r = await client.post("/batch", content=batch_body(collection, records),
                          headers={"Content-Type": "application/json"})
    if r.status_code != 200:
        raise RuntimeError(f"/batch answered {r.status_code}: {r.text[:300]}")
    return [s["status"] for s in msgspec.json.decode(r.content)["responses"]]


async def create_containers(client: httpx.AsyncClient, collections: list[str]) -> None:
    r = await client.put(f"/buckets/{BUCKET}", json={"data": {}})
    r.raise_for_status()
    for c in collections:
        r = await client.put(f"/buckets/{BUCKET}/collections/{c}", json={"data": {}})
        r.raise_for_status()


async def load_records(base_url: str, shapes: dict[str, list[dict]], batch: int = LOAD_BATCH) -> float:
    """Every record through ``POST /batch``, one writer per collection; returns seconds."""

    async def one(collection: str, records: list[dict]) -> None:
        async with new_client(base_url) as client:
            for i in range(0, len(records), batch):
                chunk = records[i:i + batch]
                for attempt in range(5):
                    try:
                        statuses = await post_batch(client, collection, chunk)
                    except (RuntimeError, httpx.HTTPError) as exc:
                        statuses = [str(exc)]
                    # 200 = the id already exists (a retried chunk): fine.
                    if len(statuses) == len(chunk) and all(s in (200, 201) for s in statuses):
                        break
                    log(f"load {collection} [{i}:{i + len(chunk)}] attempt {attempt + 1}: "
                        f"{collections.Counter(map(str, statuses)).most_common(3)}; retrying")
                    await asyncio.sleep(1)
                else:
                    raise RuntimeError(f"could not load {collection} records {i}..{i + len(chunk)}")

    began = time.perf_counter()
    await asyncio.gather(*(one(c, recs) for c, recs in shapes.items()))
    return time.perf_counter() - began


async def load_records_sql(db_url: str, shapes: dict[str, list[dict]]) -> float:
    """The rows Kinto's own create writes, straight into PostgreSQL; returns seconds.

    Per record, as ``Storage.create`` and ``Model.create_object`` do: a row of
    ``objects`` (``data`` without ``id``/``last_modified``, ``last_modified``
    left NULL so Kinto's ``bump_timestamp`` trigger assigns increasing
    timestamps, in list order) and the creator's ``write`` entry in
    ``access_control_entries`` (principal taken from the bucket the API made).
    """
    began = time.perf_counter()
    conn = await asyncpg.connect(db_url)
    try:
        principal = await conn.fetchval(
            "SELECT principal FROM access_control_entries WHERE object_id = $1 AND permission = 'write'",
            f"/buckets/{BUCKET}")
        if not principal:
            raise RuntimeError("no write principal on the bucket: create it through the API first")
        async with conn.transaction():
            for collection, records in shapes.items():
                parent = f"/buckets/{BUCKET}/collections/{collection}"
                ids = [r["id"] for r in records]
                data = [msgspec.json.encode({k: v for k, v in r.items() if k != "id"}).decode() for r in records]
                await conn.execute(
                    "INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted) "
                    "SELECT i, $3, 'record', d::jsonb, NULL, FALSE "
                    "FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(i, d, n) ORDER BY n",
                    ids, data, parent)
                await conn.execute(
                    "INSERT INTO access_control_entries (object_id, permission, principal) "
                    "SELECT $2 || '/records/' || i, 'write', $3 FROM unnest($1::text[]) AS t(i)",
                    ids, parent, principal)
    finally:
        await conn.close()
    return time.perf_counter() - began


async def settle(db_url: str) -> float:
    """VACUUM ANALYZE and CHECKPOINT after the bulk load, so autovacuum and a checkpoint
    triggered by it do not land in the middle of the measurements; returns seconds."""
    began = time.perf_counter()
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("VACUUM ANALYZE")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    return time.perf_counter() - began


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Share of the machine's CPU time (all cores) that was busy between two readings."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total else math.nan


def _all_ticks() -> dict[int, tuple[str, int]]:
    """pid -> (command name, user + system jiffies) of every process now."""
    out = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                raw = Path(f"/proc/{entry.name}/stat").read_text()
                name = raw[raw.index("(") + 1:raw.rindex(")")]
                fields = raw.rsplit(")", 1)[1].split()
                out[int(entry.name)] = (name, int(fields[11]) + int(fields[12]))
    return out


def busy_other_than(pids: list[int], seconds: float = 2.0) -> tuple[float, list[str]]:
    """Share of both cores busy over ``seconds`` with this process and ``pids`` left out,
    and the busiest of those other processes (PostgreSQL backends count as others)."""
    mine = {os.getpid(), *pids}
    m0, t0 = machine_ticks(), _all_ticks()
    time.sleep(seconds)
    m1, t1 = machine_ticks(), _all_ticks()
    total = m1[1] - m0[1]
    if not total:
        return math.nan, []
    ours = sum(t1[p][1] - t0[p][1] for p in mine if p in t0 and p in t1)
    others = sorted(((t1[p][1] - t0[p][1], p, t1[p][0]) for p in t1 if p in t0 and p not in mine),
                    reverse=True)
    top = [f"{name}[{pid}] {ticks / total:.0%}" for ticks, pid, name in others[:4] if ticks]
    return max(0.0, (m1[0] - m0[0]) - ours) / total, top


def wait_for_quiet(pids: list[int], limit: float, max_wait_s: float) -> float:
    """Busy share of the rest of the machine, after waiting up to ``max_wait_s`` for it to fall below
    ``limit``; the benchmark shares two cores with whatever else runs here."""
    deadline = time.monotonic() + max_wait_s
    while True:
        busy, top = busy_other_than(pids)
        if busy <= limit or time.monotonic() >= deadline:
            if busy > limit:
                log(f"WARNING: other processes keep {busy:.0%} of the two cores busy ({', '.join(top)}); "
                    "figures will be low")
            return busy
        log(f"other processes keep {busy:.0%} of the two cores busy ({', '.join(top)}); waiting for quiet")
        time.sleep(5)


async def stored_ids(db_url: str, collections: list[str], ids: list[str] | None = None) -> dict[str, set[str]]:
    """Ids PostgreSQL holds (live, not tombstones) per collection, optionally among ``ids``."""
    conn = await asyncpg.connect(db_url)
    try:
        parents = [f"/buckets/{BUCKET}/collections/{c}" for c in collections]
        if ids is None:
            rows = await conn.fetch("SELECT parent_id, id FROM objects WHERE resource_name = 'record' "
                                    "AND NOT deleted AND parent_id = ANY($1::text[])", parents)
        else:
            rows = await conn.fetch("SELECT parent_id, id FROM objects WHERE resource_name = 'record' "
                                    "AND NOT deleted AND parent_id = ANY($1::text[]) AND id = ANY($2::text[])",
                                    parents, ids)
    finally:
        await conn.close()
    out: dict[str, set[str]] = {c: set() for c in collections}
    for row in rows:
        out[row["parent_id"].rsplit("/", 1)[1]].add(row["id"])
    return out


# =============================================================================
# 4a. First pull
# =============================================================================
async def pull_once(base_url: str, expected: dict[str, set[str]], page_size: int) -> dict:
    """All collections, one after the other, ``_since=0`` pages following ``Next-Page``."""
    per: dict[str, dict] = {}
    total_bytes = 0
    began = time.perf_counter()
    async with new_client(base_url) as client:
        for collection, want in expected.items():
            t0 = time.perf_counter()
            url = f"{records_path(collection)}?_since=0&_sort=last_modified&_limit={page_size}"
            seen: list[str] = []
            pages = 0
            while url:
                r = await client.get(url)
                r.raise_for_status()
                total_bytes += len(r.content)
                seen += [o["id"] for o in msgspec.json.decode(r.content)["data"]]
                pages += 1
                url = r.headers.get("Next-Page")
            if len(seen) != len(want) or set(seen) != want:
                raise RuntimeError(f"pull of {collection}: {len(seen)} records ({len(set(seen))} distinct), "
                                   f"expected {len(want)}")
            per[collection] = {"records": len(seen), "pages": pages, "s": time.perf_counter() - t0}
    seconds = time.perf_counter() - began
    n = sum(p["records"] for p in per.values())
    return {"s": seconds, "records": n, "records_per_s": n / seconds, "bytes": total_bytes,
            "collections": per}


async def measure_pull(base_url: str, expected: dict[str, set[str]], page_size: int, runs: int) -> dict:
    results = []
    for i in range(runs):
        res = await pull_once(base_url, expected, page_size)
        log(f"pull run {i + 1}: {res['records']} records in {res['s']:.2f} s "
            f"({res['records_per_s']:.0f}/s, {res['bytes'] / 1e6:.1f} MB)")
        results.append(res)
    secs = sorted(r["s"] for r in results)
    n = results[0]["records"]
    return {"page_size": page_size, "runs": len(results), "records": n, "runs_s": [r["s"] for r in results],
            "best_s": secs[0], "median_s": statistics.median(secs),
            "best_records_per_s": n / secs[0], "median_records_per_s": n / statistics.median(secs),
            "bytes_per_pull": results[0]["bytes"], "pages_per_pull": sum(
                c["pages"] for c in results[0]["collections"].values()),
            "collections_s_best_run": {c: v["s"] for c, v in min(results, key=lambda r: r["s"])[
                "collections"].items()}}


# =============================================================================
# 4b/c. Pushes
# =============================================================================
class PushLedger:
    """What the server answered for every record pushed, by id."""

    def __init__(self) -> None:
        self.status: dict[str, str] = {}
        self.collection_of: dict[str, str] = {}
        self.batch_ms: list[float] = []
        self.batches = 0
        self.batches_failed = 0          # the batch itself: transport error or non-200
        self.batches_partial = 0         # 200, but some subresponse other than 201
        self.http_statuses: collections.Counter = collections.Counter()
        #: (ids, statuses) of the batches answered 200 with some subresponse other than 201.
        self.partial: list[tuple[list[str], list[str]]] = []

    def record(self, collection: str, records: list[dict], statuses: list[str], ms: float) -> None:
        self.batches += 1
        self.batch_ms.append(ms)
        for rec, st in zip(records, statuses, strict=True):
            self.status[rec["id"]] = st
            self.collection_of[rec["id"]] = collection
        if any(s != "201" for s in statuses):
            if all(s.startswith(("batch:", "exc:")) for s in statuses):
                self.batches_failed += 1
            else:
                self.batches_partial += 1
                self.partial.append(([r["id"] for r in records], statuses))

    def created(self) -> int:
        return sum(1 for s in self.status.values() if s == "201")


async def push_one_batch(client: httpx.AsyncClient, ledger: PushLedger, collection: str,
                         records: list[dict]) -> None:
    t0 = time.perf_counter()
    try:
        r = await client.post("/batch", content=batch_body(collection, records),
                              headers={"Content-Type": "application/json"})
        ledger.http_statuses[r.status_code] += 1
        if r.status_code == 200:
            subs = msgspec.json.decode(r.content)["responses"]
            statuses = [str(s["status"]) for s in subs]
            if len(statuses) != len(records):
                statuses = (statuses + ["missing"] * len(records))[:len(records)]
        else:
            statuses = [f"batch:{r.status_code}"] * len(records)
    except httpx.HTTPError as exc:
        ledger.http_statuses[type(exc).__name__] += 1
        statuses = [f"exc:{type(exc).__name__}"] * len(records)
    ledger.record(collection, records, statuses, (time.perf_counter() - t0) * 1000)


async def push_single(base_url: str, stream, batch: int, batches: int, warmup: int = 2) -> PushLedger:
    """One device, one connection, ``batches`` batches back to back (after ``warmup`` uncounted)."""
    ledger, warm = PushLedger(), PushLedger()
    async with new_client(base_url) as client:
        for i in range(warmup + batches):
            records = [next(stream) for _ in range(batch)]
            await push_one_batch(client, warm if i < warmup else ledger, PUSH_COLLECTION, records)
    ledger.warmup = warm
    return ledger


async def push_concurrent(base_url: str, stream, batch: int, clients: int, seconds: float,
                          layout: str) -> tuple[PushLedger, float]:
    """``clients`` devices in a closed loop for ``seconds``; returns the ledger and the elapsed time."""
    ledger = PushLedger()
    deadline = time.perf_counter() + seconds

    async def device(n: int) -> None:
        collection = PUSH_COLLECTION if layout == "shared" else device_collection(n)
        async with new_client(base_url) as client:
            while time.perf_counter() < deadline:
                records = [next(stream) for _ in range(batch)]
                await push_one_batch(client, ledger, collection, records)

    began = time.perf_counter()
    await asyncio.gather(*(device(n) for n in range(clients)))
    return ledger, time.perf_counter() - began


def device_collection(n: int) -> str:
    return f"device-{n + 1:02d}"


async def verify(db_url: str, ledger: PushLedger) -> dict:
    """Compare the server's answers with what PostgreSQL holds for the pushed ids."""
    ids = list(ledger.status)
    held = await stored_ids(db_url, sorted(set(ledger.collection_of.values())), ids)
    present = {i for s in held.values() for i in s}
    answered = collections.Counter(ledger.status.values())
    created = {i for i, s in ledger.status.items() if s == "201"}
    not_created = set(ids) - created
    # Where, in a batch that had a failed subrequest, the answered-201 records went.
    around = {"201_before_first_error": collections.Counter(), "201_after_first_error": collections.Counter()}
    for batch_ids, statuses in ledger.partial:
        first = next(i for i, st in enumerate(statuses) if st != "201")
        for i, (rid, st) in enumerate(zip(batch_ids, statuses, strict=True)):
            if st == "201":
                side = "201_before_first_error" if i < first else "201_after_first_error"
                around[side]["stored" if rid in present else "missing"] += 1
    return {
        "pushed": len(ids),
        "answered": dict(sorted(answered.items())),
        "reported_created": len(created),
        "stored": len(present),
        "created_but_missing": len(created - present),       # 201, yet not in the database
        "not_created_but_stored": len(not_created & present),  # an error answer, yet committed
        "partial_batches": len(ledger.partial),
        **{k: {"stored": v["stored"], "missing": v["missing"]} for k, v in around.items()},
    }


def server_log_summary(path: Path) -> dict:
    """ERROR/CRITICAL lines of Kinto's log, and the exception classes its tracebacks end with."""
    text = path.read_text(errors="replace") if path.exists() else ""
    levels = collections.Counter(m.group(1) for m in re.finditer(r"^\S+ \S+ (ERROR|CRITI)", text, re.MULTILINE))
    final = collections.Counter(m.group(1) for m in re.finditer(
        r"^((?:psycopg2\.errors|sqlalchemy\.exc|kinto\.core\.storage\.exceptions)\.\w+)", text, re.MULTILINE))
    return {"error_lines": sum(levels.values()), "levels": dict(levels), "exceptions": dict(final)}


def latency_summary(ms: list[float]) -> dict:
    v = sorted(ms)
    return {"n": len(v), "p50_ms": percentile(v, 0.50), "p95_ms": percentile(v, 0.95),
            "max_ms": v[-1] if v else math.nan, "mean_ms": statistics.fmean(v) if v else math.nan}


# =============================================================================
# 5. Report
# =============================================================================
def print_table(res: dict) -> None:
    pull = res["pull"]
    single = res["push_single"]
    print()
    print(f"Kinto {res['versions'].get('kinto')} on Granian {res['versions'].get('granian')} "
          f"(--workers {res['workers']}), PostgreSQL backends, database {DB_NAME}")
    print(machine_note())
    how = "through POST /batch" if res["load"] == "api" else "as Kinto's rows, straight into PostgreSQL"
    print(f"records: {res['records']}  (loaded {how} in {res['load_s']:.1f} s)")
    print()
    print(f"first pull, page size {pull['page_size']}, {pull['records']} records, "
          f"{pull['pages_per_pull']} pages, {pull['bytes_per_pull'] / 1e6:.1f} MB")
    print("| runs s | best s | median s | best rec/s | median rec/s |")
    print("|---|---|---|---|---|")
    print(f"| {', '.join(f'{s:.2f}' for s in pull['runs_s'])} | {pull['best_s']:.2f} | {pull['median_s']:.2f} "
          f"| {pull['best_records_per_s']:.0f} | {pull['median_records_per_s']:.0f} |")
    print()
    print(f"push, POST /batch of {res['batch_size']} creates (POST .../records with a client-made id)")
    print("| phase | batches | p50 ms | p95 ms | answered 201/s | stored/s | failed batches | "
          "partial batches | 201 but not stored | error but stored |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    s, v = single, single["verify"]
    print(f"| 1 device | {s['batches']} | {s['latency']['p50_ms']:.0f} | {s['latency']['p95_ms']:.0f} | "
          f"{s['mutations_per_s']:.0f} | {s['stored_per_s']:.0f} | {s['batches_failed']} | "
          f"{s['batches_partial']} | {v['created_but_missing']} | {v['not_created_but_stored']} |")
    for layout, c in res["push_concurrent"].items():
        v = c["verify"]
        print(f"| {c['clients']} devices, {layout}, {c['elapsed_s']:.1f} s | {c['batches']} | "
              f"{c['latency']['p50_ms']:.0f} | {c['latency']['p95_ms']:.0f} | {c['mutations_per_s']:.0f} | "
              f"{c['stored_per_s']:.0f} | {c['batches_failed']} | {c['batches_partial']} | "
              f"{v['created_but_missing']} | {v['not_created_but_stored']} |")
    for layout, c in res["push_concurrent"].items():
        v = c["verify"]
        print(f"  {layout}: pushed {v['pushed']}, answered {v['answered']}, batch HTTP {c['http_statuses']}; "
              f"answered 201: {v['reported_created']}, in the database: {v['stored']}")
        if v["partial_batches"]:
            print(f"    in the {v['partial_batches']} partial batches, 201s before the first error: "
                  f"{v['201_before_first_error']}, after it: {v['201_after_first_error']}")
        print(f"    Kinto CPU {c['server_cpu_s']:.1f} s, client CPU {c['client_cpu_s']:.1f} s "
              f"over {c['elapsed_s']:.1f} s; both cores {c['machine_busy']:.0%} busy (Kinto, PostgreSQL, client)")
    noisy = {k: f"{v:.0%}" for k, v in res.get("others_busy_before", {}).items() if v > 0.15}
    if noisy:
        print(f"  WARNING: other processes were busy just before these phases: {noisy}")
    if res.get("server_log", {}).get("error_lines"):
        print(f"  Kinto log: {res['server_log']}")
    print()


async def run(args) -> dict:
    versions = ensure_venv(args.reinstall)
    log(f"venv: {versions}")
    shapes = record_shapes(args.seed, **{c: round(n * args.scale) for c, n in COUNTS.items()})
    stream = activity_stream(args.seed, shapes)
    db_url = await recreate_database(args.pg_url)
    res: dict = {"versions": versions, "workers": args.workers, "server": "granian --interface wsgi",
                 "page_size": args.page_size, "batch_size": args.batch_size, "seed": args.seed,
                 "records": {c: len(v) for c, v in shapes.items()}}
    try:
        ini = write_config(db_url, batch_max_requests=max(args.batch_size, LOAD_BATCH))
        kinto_migrate(ini)
        log(f"database {DB_NAME} migrated; starting Granian with {args.workers} worker(s)")
        with KintoServer(ini, workers=args.workers) as server:
            log(f"Kinto up at {server.base_url}")
            async with new_client(server.base_url) as client:
                per_device = [device_collection(n) for n in range(args.clients)] \
                    if "per-device" in args.layouts else []
                await create_containers(client, [*COLLECTIONS, *per_device])
            if args.load == "api":
                res["load_s"] = await load_records(server.base_url, shapes)
            else:
                res["load_s"] = await load_records_sql(db_url, shapes)
            res["load"] = args.load
            res["settle_s"] = await settle(db_url)
            expected = await stored_ids(db_url, list(COLLECTIONS))
            counts = {c: len(v) for c, v in expected.items()}
            if counts != res["records"]:
                raise RuntimeError(f"loaded {counts}, expected {res['records']}")
            log(f"loaded {sum(counts.values())} records in {res['load_s']:.1f} s")

            res["others_busy_before"] = {
                "pull": wait_for_quiet(server.pids(), args.quiet_limit, args.quiet_wait)}
            res["pull"] = await measure_pull(server.base_url, expected, args.page_size, args.pull_runs)

            res["others_busy_before"]["push_single"] = wait_for_quiet(server.pids(), args.quiet_limit,
                                                                      args.quiet_wait)
            single = await push_single(server.base_url, stream, args.batch_size, args.single_batches)
            secs = sum(single.batch_ms) / 1000
            res["push_single"] = {
                "batches": single.batches, "latency": latency_summary(single.batch_ms),
                "mutations_per_s": single.created() / secs if secs else math.nan,
                "seconds": secs,
                "batches_failed": single.batches_failed, "batches_partial": single.batches_partial,
                "verify": await verify(db_url, single),
                "warmup_verify": await verify(db_url, single.warmup)}
            res["push_single"]["stored_per_s"] = res["push_single"]["verify"]["stored"] / secs
            log(f"1 device: p50 {res['push_single']['latency']['p50_ms']:.0f} ms, "
                f"{res['push_single']['mutations_per_s']:.0f} creates/s, {res['push_single']['verify']}")

            res["push_concurrent"] = {}
            for layout in args.layouts:
                res["others_busy_before"][layout] = wait_for_quiet(server.pids(), args.quiet_limit,
                                                                   args.quiet_wait)
                cpu0, client0, machine0 = server.cpu_seconds(), time.process_time(), machine_ticks()
                ledger, elapsed = await push_concurrent(server.base_url, stream, args.batch_size,
                                                        args.clients, args.seconds, layout)
                entry = {
                    "clients": args.clients, "elapsed_s": elapsed, "batches": ledger.batches,
                    "latency": latency_summary(ledger.batch_ms),
                    "mutations_per_s": ledger.created() / elapsed,
                    "batches_failed": ledger.batches_failed, "batches_partial": ledger.batches_partial,
                    "http_statuses": {str(k): v for k, v in ledger.http_statuses.items()},
                    "server_cpu_s": server.cpu_seconds() - cpu0,
                    "client_cpu_s": time.process_time() - client0,
                    "machine_busy": busy_share(machine0, machine_ticks()),
                }
                entry["verify"] = await verify(db_url, ledger)
                entry["stored_per_s"] = entry["verify"]["stored"] / elapsed
                res["push_concurrent"][layout] = entry
                log(f"{args.clients} devices ({layout}): {entry['mutations_per_s']:.0f} creates/s answered 201, "
                    f"{entry['batches_failed']} failed + {entry['batches_partial']} partial batches of "
                    f"{entry['batches']}; {entry['verify']}")
            res["server_log"] = server_log_summary(server.log_path)
            if res["server_log"]["error_lines"]:
                log(f"server log ({server.log_path}): {res['server_log']}")
    finally:
        if args.keep:
            log(f"kept database {DB_NAME} and {WORK / 'kinto.ini'}; serve it again with:\n  cd {WORK} && "
                f"KINTO_INI={WORK / 'kinto.ini'} {' '.join(granian_command(8888, args.workers))}")
        else:
            await drop_database(args.pg_url)
            log(f"database {DB_NAME} dropped")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=1, help="Granian worker processes")
    ap.add_argument("--page-size", type=int, default=1000, help="_limit of each pull page")
    ap.add_argument("--batch-size", type=int, default=100, help="record creates per POST /batch")
    ap.add_argument("--pull-runs", type=int, default=3)
    ap.add_argument("--single-batches", type=int, default=50)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--layouts", default="shared,per-device",
                    help="concurrent push targets: shared (one activities collection) and/or per-device")
    ap.add_argument("--load", choices=("sql", "api"), default="sql",
                    help="setup load: Kinto's rows straight into PostgreSQL (fast), or POST /batch "
                         f"({LOAD_BATCH} creates each, about 5 min for 35,000 records on 2 cores)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="fraction of the 5,000/10,000/20,000 records to load (for a quick try)")
    ap.add_argument("--pg-url", default=DEFAULT_PG_URL)
    ap.add_argument("--reinstall", action="store_true", help="recreate the Kinto virtualenv")
    ap.add_argument("--keep", action="store_true", help="keep the database and the ini")
    ap.add_argument("--quiet-limit", type=float, default=0.15,
                    help="before each phase, wait while other processes use more than this share of the CPUs")
    ap.add_argument("--quiet-wait", type=float, default=60, help="... for at most this many seconds")
    ap.add_argument("--time-cap", type=float, default=900, help="stop (and clean up) after this many s")
    args = ap.parse_args()
    args.layouts = [x for x in args.layouts.split(",") if x]
    if not set(args.layouts) <= {"shared", "per-device"}:
        ap.error("--layouts takes shared and/or per-device")
    exit_on_sigterm(args.time_cap)
    res = asyncio.run(run(args))
    print_table(res)
    print(json.dumps({"kinto": res}, default=str))


if __name__ == "__main__":
    main()
