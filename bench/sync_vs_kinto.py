"""fieldsales against Kinto, measured back to back in one run: first pull and pushes, as ratios.

    .venv/bin/python bench/sync_vs_kinto.py [--workers 1] [--page 1000] [--batch 100] [--seconds 10]
        [--rounds 3] [--single-batches 30] [--devices 20] [--kinto-layouts shared,per-device]
        [--seed 1] [--pg-url postgresql://postgres@127.0.0.1:5432] [--quiet-limit 0.15]
        [--quiet-wait 15] [--time-cap 900]

Both systems run at the same time on the same PostgreSQL server, each on a fresh database of
its own, with the same number of worker processes:

* fieldsales: ``fieldsales serve --workers N`` (uvicorn) on database ``fs_bench_vs_kinto``.
  An organisation and 20 reps are made with the app's own services (``create_org``,
  ``create_user``). Rep 1 gets ``sync_records.record_shapes(seed)`` (5,000 accounts, 10,000
  contacts, 20,000 activities) with ``owner_id`` set to rep 1's real id. The rows are the ones
  the services would write (``AccountIn``/``ContactIn``/``ActivityIn`` decoded, phones
  normalised, H3 cell, counterpart normalised by ``activity_values``). They go in through
  ``server.db.bulk.insert_rows`` inside ``unit_of_work()``, with versions from
  ``next_versions``. Reps 2..20 get a small book each (50 accounts, 100 contacts) so that their
  pushed activities link to accounts they can see. Then VACUUM ANALYZE and CHECKPOINT.
* Kinto: as ``bench/kinto_side.py`` does it (its functions are reused). That means Kinto 26.5 on
  Granian ``--interface wsgi --workers N`` in ``var/bench/kinto-venv``, database
  ``bench_kinto_vs`` and work directory ``var/bench/kinto-vs`` (not kinto_side's, so both can
  run at once). The same rep-1 dicts (same ids, same ``owner_id``) are written as Kinto's own
  rows. Then VACUUM ANALYZE and CHECKPOINT.

One client for both: ``bench/_sync.RawHTTP``, a minimal HTTP/1.1 keep-alive client on asyncio
streams (uvloop), in this process. Basic auth for Kinto, bearer token for fieldsales. Neither
system gets ``Accept-Encoding``, so both answer uncompressed (Granian does not compress Kinto's
responses anyway; a probe below checks it). Every response is decoded with msgspec and its
ids collected, the same client work on both sides.

Measured, phase by phase. Each phase has ``--rounds`` rounds and each round measures both
systems back to back. The order alternates: fieldsales first in rounds 1 and 3, Kinto first
in round 2. Before each round the run waits up to ``--quiet-wait`` s for other processes to
fall below ``--quiet-limit`` of the CPUs. During each measurement it records how busy the
rest of the machine was:

a. First pull. Ours: ``POST /api/v1/sync/pull`` with ``limit`` P, pages until ``has_more`` is
   false. Kinto: ``GET .../{accounts,contacts,activities}/records?_since=0&_sort=last_modified
   &_limit=P``, following ``Next-Page``. Each pull must deliver exactly the loaded ids. One
   unmeasured warm-up pull each comes first. All pulls run before any push, so every pull sees
   the same 35,000 records.
b. One device: 2 warm-up batches, then ``--single-batches`` batches of B new activities. Ours:
   B ``insert`` mutations in one push. Kinto: B creates in one ``POST /batch``. Latency is
   measured per batch.
c. ``--devices`` devices at once, in a closed loop for ``--seconds``. Batches already started
   are allowed to finish, and elapsed time runs to the last answer. Ours: device k is rep k.
   Kinto: one user, all devices writing to ``activities`` (``shared``; one table per org, as
   fieldsales has), and also each device into its own collection (``per-device``, Kinto's
   best case). Afterwards PostgreSQL is asked which pushed ids are really stored; the rate is
   stored records / elapsed.

Pushed records are ``activity_stream`` activities, one stream per device and the same
streams for both systems: device 1 pushes on rep 1's book, device k on rep k's. Times are
moved back by a fixed offset so that fieldsales accepts them. ``record_shapes`` ends on
2026-11-30, and fieldsales refuses activities more than 10 minutes in the future. Kinto gets
the same shifted dicts.

Report: a Markdown table with both systems, the ratios and the per-round figures, then one
JSON line. Servers are stopped and both databases dropped at the end (also on SIGTERM or
after ``--time-cap`` s).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib.metadata as md
import json
import math
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import kinto_side as ks
from bench._common import (
    DEFAULT_PG_URL,
    ROOT,
    Server,
    bound_engine,
    exit_on_sigterm,
    machine_note,
    temp_pg_database,
)
from bench._sync import (
    LOGIN,
    PULL,
    PUSH,
    SERVER_ENV,
    RawHTTP,
    cpu_ticks,
    log,
    login_devices,
    machine_ticks,
    percentile,
    postgres_pids,
    run_uvloop,
)
from bench.sync_records import UNTIL, activity_stream, record_shapes

OUR_DB = "fs_bench_vs_kinto"
KINTO_DB = "bench_kinto_vs"
KINTO_WORK = ROOT / "var" / "bench" / "kinto-vs"
SCHEMA_VERSION = 3
PASSWORD = "demo-password"
OTHER_BOOK = {"accounts": 50, "contacts": 100}
TABLES = ("accounts", "contacts", "activities")
HZ = os.sysconf("SC_CLK_TCK")

assert LOGIN and PUSH and PULL  # the endpoints this script talks to (see bench/_sync.py)


# =============================================================================
# Records
# =============================================================================
def time_shift() -> timedelta:
    """How far pushed activities move back: the stream then starts 90 days ago."""
    return timedelta(seconds=int((UNTIL - (datetime.now(UTC) - timedelta(days=90))).total_seconds()))


def _shifted(stream, shift: timedelta):
    for rec in stream:
        out = dict(rec)
        for key in ("occurred_at", "ended_at"):
            if out.get(key):
                out[key] = (datetime.fromisoformat(out[key]) - shift).isoformat(timespec="seconds")
        yield out


def device_streams(seed: int, book1: dict, books: list[dict], shift: timedelta) -> list:
    """One endless stream of new activities per device (device 0 on rep 1's book)."""
    streams = [_shifted(activity_stream(seed, book1), shift)]
    streams += [_shifted(activity_stream(seed * 1000 + k, b), shift) for k, b in enumerate(books, start=2)]
    return streams


def _ms(iso: str | None) -> int | None:
    return None if iso is None else int(datetime.fromisoformat(iso).timestamp() * 1000)


def wire_fields(rec: dict) -> dict:
    """A record as our push carries it: columns without ``id``, timestamps in epoch milliseconds."""
    out = {k: v for k, v in rec.items() if k != "id"}
    out["occurred_at"] = _ms(out["occurred_at"])
    out["ended_at"] = _ms(out.get("ended_at"))
    return out


# =============================================================================
# Our side: data
# =============================================================================
async def load_ours(db_url: str, seed: int, reps: int) -> dict:
    """Org, ``reps`` reps (services), rep 1's book and the others' small books (bulk); see the docstring."""
    from server.accounts import contacts as contact_service
    from server.accounts import service as account_service
    from server.accounts.contact_schemas import ContactIn
    from server.accounts.schemas import AccountIn
    from server.common.location import point_columns
    from server.common.time import utcnow
    from server.comms.activities import activity_values
    from server.comms.schemas import ActivityIn
    from server.db.bulk import insert_rows
    from server.db.clock import next_versions
    from server.db.tx import unit_of_work
    from server.orgs.service import create_org
    from server.users.service import create_user

    began = time.perf_counter()
    async with bound_engine(db_url):
        async with unit_of_work():
            org_id = await create_org("Kinto comparison", slug="kinto-comparison", timezone="America/Denver")
            rep_ids = [await create_user(org_id, email=f"rep{i + 1:02d}@bench.example.com", password=PASSWORD,
                                         full_name=f"Bench Rep {i + 1}", role="rep", password_time_cost=1)
                       for i in range(reps)]
        book1 = record_shapes(seed, owner_id=str(rep_ids[0]))
        books = [record_shapes(seed * 1000 + k, activities=0, owner_id=str(rep_ids[k - 1]), **OTHER_BOOK)
                 for k in range(2, reps + 1)]
        now = utcnow()
        # activity_values() refuses times over 10 min ahead of `now`; the book ends on UNTIL.
        check_now = max(now, UNTIL.astimezone(UTC) + timedelta(days=1))

        def stamp(rows: list[dict], versions) -> None:
            for row, v in zip(rows, versions, strict=True):
                row.update(org_id=org_id, created_at=now, updated_at=now, deleted_at=None,
                           field_versions="{}", version=v)

        async def put(table: str, rows: list[dict]) -> None:
            if not rows:
                return
            async with unit_of_work() as tx:
                stamp(rows, await next_versions(org_id, len(rows)))
                columns = tuple(rows[0])
                await insert_rows(table, columns, [tuple(r[c] for c in columns) for r in rows], tx.connection)

        def account_row(d: dict) -> dict:
            data = msgspec.convert(d, AccountIn)
            values = account_service._values(msgspec.structs.asdict(data))
            values.update(point_columns(data.lat, data.lng), owner_id=data.owner_id, id=data.id)
            return values

        def contact_row(d: dict) -> dict:
            data = msgspec.convert(d, ContactIn)
            values = contact_service._values(msgspec.structs.asdict(data))
            values.update(id=data.id)
            return values

        def activity_row(d: dict, rep_id: uuid.UUID) -> dict:
            data = msgspec.convert(d, ActivityIn)
            return {**activity_values(data, check_now), "id": data.id, "rep_id": rep_id, "received_at": now}

        every = [book1, *books]
        await put("accounts", [account_row(a) for b in every for a in b["accounts"]])
        await put("contacts", [contact_row(c) for b in every for c in b["contacts"]])
        await put("activities", [activity_row(a, rep_ids[0]) for a in book1["activities"]])
    settle_s = await ks.settle(db_url)
    return {"org_id": org_id, "rep_ids": rep_ids, "book1": book1, "books": books,
            "load_s": time.perf_counter() - began, "settle_s": settle_s}


async def stored_activity_ids(db_url: str, ids: list[str]) -> set[str]:
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch("SELECT id::text FROM activities WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL",
                                ids)
    finally:
        await conn.close()
    return {r[0] for r in rows}


# =============================================================================
# CPU accounting of one measurement
# =============================================================================
class Meter:
    """CPU of the system under test (server processes, its PostgreSQL backends), of this client,
    and of everything else on the machine, between ``start()`` and ``stop()``."""

    def __init__(self, server_pids: list[int], database: str) -> None:
        self.server_pids, self.database = server_pids, database

    def _pg(self) -> dict[int, int]:
        return {pid: cpu_ticks([pid]) for pid in postgres_pids(self.database)}

    def start(self) -> Meter:
        self.s0, self.pg0 = cpu_ticks(self.server_pids), self._pg()
        self.c0, self.m0, self.w0 = time.process_time(), machine_ticks(), time.perf_counter()
        return self

    def stop(self) -> dict:
        busy1, total1 = machine_ticks()
        wall = time.perf_counter() - self.w0
        server = (cpu_ticks(self.server_pids) - self.s0) / HZ
        pg = sum(t - self.pg0.get(pid, 0) for pid, t in self._pg().items()) / HZ
        client = time.process_time() - self.c0
        total = max(total1 - self.m0[1], 1) / HZ  # CPU-seconds available on all cores
        busy = (busy1 - self.m0[0]) / HZ
        return {"wall_s": wall, "server_cpu_s": server, "postgres_cpu_s": pg, "client_cpu_s": client,
                "machine_busy": busy / total, "others_busy": max(0.0, busy - server - pg - client) / total}


# =============================================================================
# Clients
# =============================================================================
def kinto_http(base_url: str, *, gzip: bool = False) -> RawHTTP:
    """RawHTTP with Kinto's basic auth; paths carry the ``/v1`` prefix."""
    http = RawHTTP(base_url, None, gzip=gzip, timeout=300)
    token = base64.b64encode(":".join(ks.USER).encode()).decode()
    http.head += f"Authorization: Basic {token}\r\n"
    return http


def _path(url: str) -> str:
    u = urlsplit(url)
    return f"{u.path}?{u.query}" if u.query else u.path


async def pull_ours(base_url: str, dev: dict, page: int, *, gzip: bool = False) -> dict:
    http = await RawHTTP(base_url, dev["token"], gzip=gzip, timeout=300).connect()
    ids: dict[str, list[str]] = {}
    pages = json_bytes = 0
    cursor = None
    try:
        began = time.perf_counter()
        while True:
            body = msgspec.json.encode({"device_id": dev["device_id"], "schema_version": SCHEMA_VERSION,
                                        "cursor": cursor, "limit": page})
            status, data = await http.post_json(PULL, body)
            if status != 200:
                raise RuntimeError(f"pull page {pages + 1}: HTTP {status}: {data[:300]!r}")
            json_bytes += len(data)
            doc = msgspec.json.decode(data)
            for name, ch in doc["changes"].items():
                ids.setdefault(name, []).extend(r["id"] for r in ch["upserted"])
            pages += 1
            cursor = doc["cursor"]
            if not doc["has_more"]:
                break
        seconds = time.perf_counter() - began
    finally:
        await http.close()
    return {"s": seconds, "pages": pages, "json_bytes": json_bytes, "wire_bytes": http.wire_bytes, "ids": ids}


async def pull_kinto(base_url: str, page: int) -> dict:
    http = await kinto_http(base_url).connect()
    ids: dict[str, list[str]] = {}
    pages = json_bytes = 0
    try:
        began = time.perf_counter()
        for collection in TABLES:
            path = f"/v1{ks.records_path(collection)}?_since=0&_sort=last_modified&_limit={page}"
            got = ids.setdefault(collection, [])
            while path:
                status, data = await http.request("GET", path)
                if status != 200:
                    raise RuntimeError(f"Kinto pull {collection}: HTTP {status}: {data[:300]!r}")
                json_bytes += len(data)
                got.extend(o["id"] for o in msgspec.json.decode(data)["data"])
                pages += 1
                nxt = http.last_headers.get("next-page")
                path = _path(nxt) if nxt else None
        seconds = time.perf_counter() - began
    finally:
        await http.close()
    return {"s": seconds, "pages": pages, "json_bytes": json_bytes, "wire_bytes": http.wire_bytes, "ids": ids}


def check_pull(res: dict, expected: dict[str, set[str]], who: str) -> dict[str, int]:
    """Every loaded id exactly once; returns records per table (other tables included)."""
    for t, want in expected.items():
        got = res["ids"].get(t, [])
        if len(got) != len(want) or set(got) != want:
            raise RuntimeError(f"{who} pull of {t}: {len(got)} records ({len(set(got))} distinct), "
                               f"expected {len(want)}")
    return {t: len(v) for t, v in res["ids"].items()}


class OurDevice:
    def __init__(self, base_url: str, dev: dict, stream) -> None:
        self.http = RawHTTP(base_url, dev["token"], timeout=300)
        self.device_id = dev["device_id"]
        self.stream = stream
        self.next_id = 1

    def batch(self, size: int) -> tuple[list[dict], bytes]:
        records = [next(self.stream) for _ in range(size)]
        mutations = []
        for r in records:
            mutations.append({"mutation_id": self.next_id, "table": "activities", "op": "insert",
                              "id": r["id"], "fields": wire_fields(r)})
            self.next_id += 1
        return records, msgspec.json.encode({"device_id": self.device_id, "schema_version": SCHEMA_VERSION,
                                             "mutations": mutations})

    async def push(self, size: int, ledger: OurLedger) -> None:
        records, body = self.batch(size)
        t0 = time.perf_counter()
        try:
            status, data = await self.http.post_json(PUSH, body)
        except Exception as exc:  # noqa: BLE001 - counted, never fatal
            await self.http.close()
            ledger.record(records, [f"exc:{type(exc).__name__}"] * size, (time.perf_counter() - t0) * 1000)
            return
        ms = (time.perf_counter() - t0) * 1000
        if status == 200:
            statuses = [r["status"] for r in msgspec.json.decode(data)["results"]]
        else:
            statuses = [f"batch:{status}"] * size
            ledger.errors.append(f"HTTP {status}: {data[:200]!r}")
        ledger.record(records, statuses, ms)


class OurLedger:
    def __init__(self) -> None:
        self.status: dict[str, str] = {}
        self.batch_ms: list[float] = []
        self.batches = self.batches_not_all_applied = 0
        self.errors: list[str] = []

    def record(self, records: list[dict], statuses: list[str], ms: float) -> None:
        self.batches += 1
        self.batch_ms.append(ms)
        for r, s in zip(records, statuses, strict=True):
            self.status[r["id"]] = s
        if any(s != "applied" for s in statuses):
            self.batches_not_all_applied += 1

    def accepted(self) -> int:
        return sum(1 for s in self.status.values() if s == "applied")


class KintoDevice:
    def __init__(self, base_url: str, collection: str, stream) -> None:
        self.http = kinto_http(base_url)
        self.collection = collection
        self.stream = stream

    async def push(self, size: int, ledger: ks.PushLedger) -> None:
        records = [next(self.stream) for _ in range(size)]
        body = ks.batch_body(self.collection, records)
        t0 = time.perf_counter()
        try:
            status, data = await self.http.post_json("/v1/batch", body)
            ledger.http_statuses[status] += 1
            if status == 200:
                statuses = [str(s["status"]) for s in msgspec.json.decode(data)["responses"]]
                statuses = (statuses + ["missing"] * size)[:size]
            else:
                statuses = [f"batch:{status}"] * size
        except Exception as exc:  # noqa: BLE001
            await self.http.close()
            ledger.http_statuses[type(exc).__name__] += 1
            statuses = [f"exc:{type(exc).__name__}"] * size
        ledger.record(self.collection, records, statuses, (time.perf_counter() - t0) * 1000)


async def closed_loop(devices: list, size: int, seconds: float, ledger) -> float:
    """Every device sends its next batch when the last one is answered, until the deadline; the
    batches under way then finish. Returns the elapsed time up to the last answer."""
    for d in devices:
        await d.http.connect()
    deadline = time.perf_counter() + seconds

    async def run(d) -> None:
        while time.perf_counter() < deadline:
            await d.push(size, ledger)

    began = time.perf_counter()
    try:
        await asyncio.gather(*(run(d) for d in devices))
    finally:
        for d in devices:
            await d.http.close()
    return time.perf_counter() - began


def lat(ms: list[float]) -> dict:
    v = sorted(ms)
    return {"n": len(v), "p50_ms": percentile(v, 0.5), "p95_ms": percentile(v, 0.95),
            "max_ms": v[-1] if v else math.nan}


# =============================================================================
# The run
# =============================================================================
def versions() -> dict:
    out = {}
    for n in ("litestar", "uvicorn", "uvloop", "httptools", "piccolo", "asyncpg", "msgspec"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[n] = md.version(n)
    return out


async def pg_version(pg_url: str) -> str:
    conn = await asyncpg.connect(f"{pg_url.rstrip('/')}/postgres")
    try:
        return (await conn.fetchval("SHOW server_version")).split()[0]
    finally:
        await conn.close()


def order_of(rnd: int, kinto_names: list[str]) -> list[str]:
    """Round 0, 2, ...: ours first; round 1, 3, ...: Kinto first."""
    return ["ours", *kinto_names] if rnd % 2 == 0 else [*kinto_names, "ours"]


async def run(args) -> dict:
    ks.WORK = KINTO_WORK  # kinto_side's functions write ini, app.py and the server log here
    res: dict = {"args": {k: v for k, v in vars(args).items() if k != "pg_url"},
                 "versions": {"fieldsales": md.version("fieldsales"), **versions(),
                              "postgresql": await pg_version(args.pg_url)}}
    res["versions"]["kinto_venv"] = ks.ensure_venv()
    log(f"versions: {res['versions']}")
    shift = time_shift()
    res["push_time_shift_days"] = shift.total_seconds() / 86400

    async with temp_pg_database(args.pg_url, OUR_DB) as our_url:
        log(f"fieldsales: loading {OUR_DB}")
        ours = await load_ours(our_url, args.seed, args.devices)
        book1, books = ours["book1"], ours["books"]
        expected = {t: {r["id"] for r in book1[t]} for t in TABLES}
        res["records"] = {t: len(v) for t, v in expected.items()}
        res["ours_load_s"] = ours["load_s"]
        log(f"fieldsales: loaded in {ours['load_s']:.1f} s (rep 1: {res['records']}; "
            f"{args.devices - 1} other reps with {OTHER_BOOK} each)")

        kinto_url = await ks.recreate_database(args.pg_url, KINTO_DB)
        try:
            ini = ks.write_config(kinto_url, batch_max_requests=max(args.batch, ks.LOAD_BATCH))
            ks.kinto_migrate(ini)
            with ks.KintoServer(ini, workers=args.workers) as kinto, \
                    Server(our_url, workers=args.workers, extra_env=SERVER_ENV) as srv:
                log(f"Kinto up at {kinto.base_url}, fieldsales up at {srv.base_url} "
                    f"({args.workers} worker(s) each)")
                async with ks.new_client(kinto.base_url) as client:
                    per_device = ([ks.device_collection(n) for n in range(args.devices)]
                                  if "per-device" in args.kinto_layouts else [])
                    await ks.create_containers(client, [*TABLES, *per_device])
                res["kinto_load_s"] = await ks.load_records_sql(kinto_url, book1)
                await ks.settle(kinto_url)
                held = await ks.stored_ids(kinto_url, list(TABLES))
                if held != expected:
                    raise RuntimeError(f"Kinto holds {({t: len(v) for t, v in held.items()})}, "
                                       f"expected {res['records']}")
                log(f"Kinto: loaded in {res['kinto_load_s']:.1f} s")

                devices = login_devices(srv.base_url, [f"rep{i + 1:02d}@bench.example.com"
                                                       for i in range(args.devices)], PASSWORD)
                both_pids = srv.pids() + kinto.pids()
                meters = {"ours": (srv.pids(), OUR_DB), "kinto": (kinto.pids(), KINTO_DB)}
                res["server_processes"] = {"ours": len(srv.pids()), "kinto": len(kinto.pids())}

                def quiet() -> float:
                    return ks.wait_for_quiet(both_pids, args.quiet_limit, args.quiet_wait)

                # -- (a) first pull --------------------------------------------------------------
                log("warm-up pulls")
                check_pull(await pull_ours(srv.base_url, devices[0], args.page), expected, "fieldsales")
                check_pull(await pull_kinto(kinto.base_url, args.page), expected, "Kinto")
                pulls: dict[str, list] = {"ours": [], "kinto": []}
                for rnd in range(args.rounds):
                    before = quiet()
                    for who in order_of(rnd, ["kinto"]):
                        meter = Meter(*meters[who]).start()
                        r = (await pull_ours(srv.base_url, devices[0], args.page) if who == "ours"
                             else await pull_kinto(kinto.base_url, args.page))
                        m = meter.stop()
                        counts = check_pull(r, expected, who)
                        n = sum(counts.values())
                        entry = {"round": rnd + 1, "s": r["s"], "records": n, "records_per_s": n / r["s"],
                                 "pages": r["pages"], "json_bytes": r["json_bytes"],
                                 "wire_bytes": r["wire_bytes"], "by_table": counts,
                                 "others_before": before, **m}
                        pulls[who].append(entry)
                        log(f"pull round {rnd + 1} {who}: {n} records in {r['s']:.2f} s "
                            f"({n / r['s']:,.0f}/s, {r['json_bytes'] / 1e6:.1f} MB, {r['pages']} pages; "
                            f"others {m['others_busy']:.0%})")
                res["pull"] = pulls
                # Compression probes (not in the ratios).
                gz = await pull_ours(srv.base_url, devices[0], args.page, gzip=True)
                res["ours_gzip_pull"] = {"s": gz["s"], "json_bytes": gz["json_bytes"], "wire_bytes": gz["wire_bytes"]}
                probe = await kinto_http(kinto.base_url, gzip=True).connect()
                try:
                    await probe.request("GET", f"/v1{ks.records_path('accounts')}?_since=0&_limit={args.page}")
                    res["kinto_gzip_probe"] = probe.last_headers.get("content-encoding", "identity")
                finally:
                    await probe.close()
                log(f"gzip: ours {gz['s']:.2f} s, {gz['wire_bytes'] / 1e6:.1f} MB on the wire; "
                    f"Kinto asked for gzip answers Content-Encoding: {res['kinto_gzip_probe']}")

                # -- (b) one device --------------------------------------------------------------
                our_streams = device_streams(args.seed, book1, books, shift)
                kinto_streams = device_streams(args.seed, book1, books, shift)
                our_devs = [OurDevice(srv.base_url, d, s) for d, s in zip(devices, our_streams, strict=True)]
                single: dict[str, list] = {"ours": [], "kinto": []}
                for rnd in range(args.rounds):
                    before = quiet()
                    for who in order_of(rnd, ["kinto"]):
                        if who == "ours":
                            dev, warm, ledger = our_devs[0], OurLedger(), OurLedger()
                        else:
                            dev, warm, ledger = (KintoDevice(kinto.base_url, ks.PUSH_COLLECTION, kinto_streams[0]),
                                                 ks.PushLedger(), ks.PushLedger())
                        await dev.http.connect()
                        for _ in range(2):
                            await dev.push(args.batch, warm)
                        meter = Meter(*meters[who]).start()
                        for _ in range(args.single_batches):
                            await dev.push(args.batch, ledger)
                        m = meter.stop()
                        await dev.http.close()
                        entry = {"round": rnd + 1, "others_before": before, **m, **lat(ledger.batch_ms)}
                        entry.update(await verify(who, ledger, our_url, kinto_url))
                        entry["stored_per_s"] = entry["stored"] / (sum(ledger.batch_ms) / 1000)
                        single[who].append(entry)
                        log(f"1 device round {rnd + 1} {who}: p50 {entry['p50_ms']:.0f} ms, "
                            f"p95 {entry['p95_ms']:.0f} ms, stored {entry['stored']}/{entry['pushed']}; "
                            f"others {m['others_busy']:.0%}")
                res["single"] = single

                # -- (c) N devices at once -----------------------------------------------------
                kinto_names = [f"kinto_{lay.replace('-', '_')}" for lay in args.kinto_layouts]
                conc: dict[str, list] = {"ours": [], **{k: [] for k in kinto_names}}
                for rnd in range(args.rounds):
                    for who in order_of(rnd, kinto_names):
                        before = quiet()
                        if who == "ours":
                            devs, ledger = our_devs, OurLedger()
                        else:
                            shared = who == "kinto_shared"
                            devs = [KintoDevice(kinto.base_url,
                                                ks.PUSH_COLLECTION if shared else ks.device_collection(n), s)
                                    for n, s in enumerate(kinto_streams)]
                            ledger = ks.PushLedger()
                        meter = Meter(*meters["ours" if who == "ours" else "kinto"]).start()
                        elapsed = await closed_loop(devs, args.batch, args.seconds, ledger)
                        m = meter.stop()
                        entry = {"round": rnd + 1, "elapsed_s": elapsed, "batches": ledger.batches,
                                 "others_before": before, **m, **lat(ledger.batch_ms)}
                        entry.update(await verify(who, ledger, our_url, kinto_url))
                        entry["stored_per_s"] = entry["stored"] / elapsed
                        entry["accepted_per_s"] = entry["accepted"] / elapsed
                        conc[who].append(entry)
                        log(f"{args.devices} devices round {rnd + 1} {who}: {entry['stored_per_s']:,.0f} stored/s "
                            f"({entry['accepted_per_s']:,.0f} answered ok/s) over {elapsed:.1f} s, "
                            f"p50 {entry['p50_ms']:.0f} ms; accepted but missing {entry['accepted_missing']}; "
                            f"others {m['others_busy']:.0%}")
                res["concurrent"] = conc
                res["kinto_log"] = ks.server_log_summary(kinto.log_path)
                res["ours_log_tail"] = srv.log_tail(5)
        finally:
            await ks.drop_database(args.pg_url, KINTO_DB)
            log(f"database {KINTO_DB} dropped")
    log(f"database {OUR_DB} dropped")
    return res


async def verify(who: str, ledger, our_url: str, kinto_url: str) -> dict:
    """What PostgreSQL holds of the pushed ids, against what the server answered."""
    if who == "ours":
        ids = list(ledger.status)
        present = await stored_activity_ids(our_url, ids)
        accepted = {i for i, s in ledger.status.items() if s == "applied"}
        answered: dict[str, int] = {}
        for s in ledger.status.values():
            answered[s] = answered.get(s, 0) + 1
        return {"pushed": len(ids), "accepted": len(accepted), "stored": len(present),
                "accepted_missing": len(accepted - present), "refused_but_stored": len(present - accepted),
                "answered": answered, "batches_not_all_ok": ledger.batches_not_all_applied,
                "errors": ledger.errors[:3]}
    v = await ks.verify(kinto_url, ledger)
    return {"pushed": v["pushed"], "accepted": v["reported_created"], "stored": v["stored"],
            "accepted_missing": v["created_but_missing"], "refused_but_stored": v["not_created_but_stored"],
            "answered": v["answered"], "batches_not_all_ok": ledger.batches_failed + ledger.batches_partial}


# =============================================================================
# Report
# =============================================================================
def med(entries: list[dict], key: str) -> float:
    return statistics.median(e[key] for e in entries) if entries else math.nan


def pooled(entries: list[dict], key: str) -> float:
    return sum(e[key] for e in entries)


def summarize(res: dict) -> dict:
    p, s, c = res["pull"], res["single"], res["concurrent"]
    out = {
        "pull_s": {"ours": med(p["ours"], "s"), "kinto": med(p["kinto"], "s")},
        "pull_records_per_s": {"ours": med(p["ours"], "records_per_s"), "kinto": med(p["kinto"], "records_per_s")},
        "pull_bytes": {"ours": p["ours"][0]["json_bytes"], "kinto": p["kinto"][0]["json_bytes"]},
        "pull_cpu_ms_per_1k": {w: med([{**e, "x": (e["server_cpu_s"] + e["postgres_cpu_s"]) * 1e6 / e["records"]}
                                       for e in p[w]], "x") for w in ("ours", "kinto")},
        "single_p50_ms": {w: med(s[w], "p50_ms") for w in ("ours", "kinto")},
        "single_p95_ms": {w: med(s[w], "p95_ms") for w in ("ours", "kinto")},
        "single_stored_per_s": {w: med(s[w], "stored_per_s") for w in ("ours", "kinto")},
        "single_cpu_ms_per_batch": {w: med([{**e, "x": (e["server_cpu_s"] + e["postgres_cpu_s"]) * 1000 / e["n"]}
                                            for e in s[w]], "x") for w in ("ours", "kinto")},
        "concurrent_stored_per_s": {w: med(v, "stored_per_s") for w, v in c.items()},
        "concurrent_accepted_per_s": {w: med(v, "accepted_per_s") for w, v in c.items()},
        "concurrent_p50_ms": {w: med(v, "p50_ms") for w, v in c.items()},
        "concurrent_p95_ms": {w: med(v, "p95_ms") for w, v in c.items()},
        "concurrent_accepted_missing": {w: pooled(v, "accepted_missing") for w, v in c.items()},
        "concurrent_accepted": {w: pooled(v, "accepted") for w, v in c.items()},
    }
    ratios = {
        # Higher is better for fieldsales in every ratio below, except bytes.
        "pull_time_kinto_over_ours": out["pull_s"]["kinto"] / out["pull_s"]["ours"],
        "pull_records_per_s_ours_over_kinto": out["pull_records_per_s"]["ours"] / out["pull_records_per_s"]["kinto"],
        "pull_bytes_ours_over_kinto": out["pull_bytes"]["ours"] / out["pull_bytes"]["kinto"],
        "pull_cpu_kinto_over_ours": out["pull_cpu_ms_per_1k"]["kinto"] / out["pull_cpu_ms_per_1k"]["ours"],
        "single_p50_kinto_over_ours": out["single_p50_ms"]["kinto"] / out["single_p50_ms"]["ours"],
        "single_p95_kinto_over_ours": out["single_p95_ms"]["kinto"] / out["single_p95_ms"]["ours"],
        "single_stored_per_s_ours_over_kinto": (out["single_stored_per_s"]["ours"]
                                                / out["single_stored_per_s"]["kinto"]),
        "single_cpu_kinto_over_ours": out["single_cpu_ms_per_batch"]["kinto"] / out["single_cpu_ms_per_batch"]["ours"],
    }
    for w in c:
        if w != "ours":
            lay = w.removeprefix("kinto_")
            ratios[f"concurrent_stored_per_s_ours_over_kinto_{lay}"] = (
                out["concurrent_stored_per_s"]["ours"] / out["concurrent_stored_per_s"][w])
            ratios[f"concurrent_p50_kinto_{lay}_over_ours"] = (
                out["concurrent_p50_ms"][w] / out["concurrent_p50_ms"]["ours"])
    # The same ratios round by round (each round measured both systems back to back).
    per_round = {
        "pull_time_kinto_over_ours": [k["s"] / o["s"] for o, k in zip(p["ours"], p["kinto"], strict=True)],
        "single_p50_kinto_over_ours": [k["p50_ms"] / o["p50_ms"] for o, k in zip(s["ours"], s["kinto"], strict=True)],
    }
    for w in c:
        if w != "ours":
            per_round[f"concurrent_stored_per_s_ours_over_{w}"] = [
                o["stored_per_s"] / k["stored_per_s"] if k["stored_per_s"] else math.inf
                for o, k in zip(c["ours"], c[w], strict=True)]
    return {"figures": out, "ratios": ratios, "per_round": per_round}


def report(res: dict, summary: dict) -> list[str]:
    a, f, r, pr = res["args"], summary["figures"], summary["ratios"], summary["per_round"]
    v = res["versions"]
    kv = v["kinto_venv"]
    n = res["pull"]["ours"][0]["records"]
    nk = res["pull"]["kinto"][0]["records"]

    def rr(xs: list[float]) -> str:
        return ", ".join(f"{x:.2f}" for x in xs)

    L = ["", f"# fieldsales vs Kinto, one run ({a['rounds']} rounds, alternating)", "",
         machine_note() + ".",
         (f"fieldsales {v['fieldsales']} (uvicorn {v.get('uvicorn')}, Litestar {v.get('litestar')}, "
          f"Piccolo {v.get('piccolo')}, asyncpg {v.get('asyncpg')}) vs Kinto {kv.get('kinto')} "
          f"(Granian {kv.get('granian')}, SQLAlchemy {kv.get('SQLAlchemy')}, psycopg2 {kv.get('psycopg2-binary')}); "
          f"PostgreSQL {v['postgresql']}; {a['workers']} worker(s) each; page {a['page']}, batch {a['batch']}; "
          "uncompressed on both sides."),
         "",
         ("Ratios: for times and latencies Kinto/fieldsales, for rates fieldsales/Kinto, so > 1 means "
         "fieldsales is better; bytes fieldsales/Kinto. Figures are medians of the rounds."), "",
         "| measure | fieldsales | Kinto | ratio | per round |", "|---|---|---|---|---|",
         (f"| first pull, s ({n:,} / {nk:,} records) | {f['pull_s']['ours']:.2f} | {f['pull_s']['kinto']:.2f} "
         f"| **{r['pull_time_kinto_over_ours']:.2f}** | {rr(pr['pull_time_kinto_over_ours'])} |"),
         (f"| first pull, records/s | {f['pull_records_per_s']['ours']:,.0f} | {f['pull_records_per_s']['kinto']:,.0f} "
         f"| {r['pull_records_per_s_ours_over_kinto']:.2f} | |"),
         (f"| first pull, MB of JSON | {f['pull_bytes']['ours'] / 1e6:.1f} | {f['pull_bytes']['kinto'] / 1e6:.1f} "
         f"| {r['pull_bytes_ours_over_kinto']:.2f} (ours/Kinto) | |"),
         (f"| first pull, server+PG CPU ms per 1,000 records | {f['pull_cpu_ms_per_1k']['ours']:.0f} "
         f"| {f['pull_cpu_ms_per_1k']['kinto']:.0f} | {r['pull_cpu_kinto_over_ours']:.2f} | |"),
         (f"| 1 device, batch p50 ms | {f['single_p50_ms']['ours']:.0f} | {f['single_p50_ms']['kinto']:.0f} "
         f"| **{r['single_p50_kinto_over_ours']:.2f}** | {rr(pr['single_p50_kinto_over_ours'])} |"),
         (f"| 1 device, batch p95 ms | {f['single_p95_ms']['ours']:.0f} | {f['single_p95_ms']['kinto']:.0f} "
         f"| {r['single_p95_kinto_over_ours']:.2f} | |"),
         (f"| 1 device, stored records/s | {f['single_stored_per_s']['ours']:,.0f} "
         f"| {f['single_stored_per_s']['kinto']:,.0f} | {r['single_stored_per_s_ours_over_kinto']:.2f} | |"),
         (f"| 1 device, server+PG CPU ms per batch | {f['single_cpu_ms_per_batch']['ours']:.0f} "
         f"| {f['single_cpu_ms_per_batch']['kinto']:.0f} | {r['single_cpu_kinto_over_ours']:.2f} | |")]
    c = res["concurrent"]
    for w in c:
        if w == "ours":
            continue
        lay = w.removeprefix("kinto_")
        L.append(f"| {a['devices']} devices, stored records/s (Kinto {lay.replace('_', '-')}) "
                 f"| {f['concurrent_stored_per_s']['ours']:,.0f} | {f['concurrent_stored_per_s'][w]:,.0f} "
                 f"| **{r[f'concurrent_stored_per_s_ours_over_kinto_{lay}']:.2f}** "
                 f"| {rr(pr[f'concurrent_stored_per_s_ours_over_{w}'])} |")
        L.append(f"| {a['devices']} devices, batch p50 ms (Kinto {lay.replace('_', '-')}) "
                 f"| {f['concurrent_p50_ms']['ours']:,.0f} | {f['concurrent_p50_ms'][w]:,.0f} "
                 f"| {r[f'concurrent_p50_kinto_{lay}_over_ours']:.2f} | |")
    L += ["", "Per round (others = share of both cores used by other processes during the measurement):", "",
          ("| phase | system | round | s | rate | p50 / p95 ms | server CPU s | PG CPU s | client CPU s | "
          "others | accepted | stored | accepted but not stored |"), "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for who, es in res["pull"].items():
        for e in es:
            L.append(f"| pull | {who} | {e['round']} | {e['s']:.2f} | {e['records_per_s']:,.0f} rec/s | | "
                     f"{e['server_cpu_s']:.2f} | {e['postgres_cpu_s']:.2f} | {e['client_cpu_s']:.2f} | "
                     f"{e['others_busy']:.0%} | | | |")
    for who, es in res["single"].items():
        for e in es:
            L.append(f"| 1 device | {who} | {e['round']} | {e['wall_s']:.1f} | {e['stored_per_s']:,.0f} stored/s | "
                     f"{e['p50_ms']:.0f} / {e['p95_ms']:.0f} | {e['server_cpu_s']:.2f} | {e['postgres_cpu_s']:.2f} | "
                     f"{e['client_cpu_s']:.2f} | {e['others_busy']:.0%} | {e['accepted']} | {e['stored']} | "
                     f"{e['accepted_missing']} |")
    for who, es in c.items():
        for e in es:
            L.append(f"| {a['devices']} devices | {who} | {e['round']} | {e['elapsed_s']:.1f} | "
                     f"{e['stored_per_s']:,.0f} stored/s | {e['p50_ms']:,.0f} / {e['p95_ms']:,.0f} | "
                     f"{e['server_cpu_s']:.1f} | {e['postgres_cpu_s']:.1f} | {e['client_cpu_s']:.1f} | "
                     f"{e['others_busy']:.0%} | {e['accepted']} | {e['stored']} | {e['accepted_missing']} |")
    g = res["ours_gzip_pull"]
    L += ["", (f"Compression (not in the ratios): fieldsales with Accept-Encoding gzip pulled in {g['s']:.2f} s, "
               f"{g['wire_bytes'] / 1e6:.1f} MB on the wire; Kinto asked for gzip answered Content-Encoding "
               f"`{res['kinto_gzip_probe']}`."),
          (f"Pulled per table: fieldsales {res['pull']['ours'][0]['by_table']}, "
           f"Kinto {res['pull']['kinto'][0]['by_table']}."),
          f"Kinto log: {res['kinto_log']}"]
    for who, es in c.items():
        answered: dict[str, int] = {}
        for e in es:
            for k, n_ in e["answered"].items():
                answered[k] = answered.get(k, 0) + n_
        L.append(f"{who}, {a['devices']} devices, answers over all rounds: {answered}")
    return L


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn workers = Granian workers")
    ap.add_argument("--page", type=int, default=1000, help="records per pull page (our limit = Kinto _limit)")
    ap.add_argument("--batch", type=int, default=100, help="records per push batch")
    ap.add_argument("--seconds", type=float, default=10, help="closed-loop window of the N-device phase")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--single-batches", type=int, default=30)
    ap.add_argument("--devices", type=int, default=20)
    ap.add_argument("--kinto-layouts", default="shared,per-device")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pg-url", default=DEFAULT_PG_URL)
    ap.add_argument("--quiet-limit", type=float, default=0.15)
    ap.add_argument("--quiet-wait", type=float, default=15)
    ap.add_argument("--time-cap", type=float, default=900)
    args = ap.parse_args()
    args.kinto_layouts = [x for x in args.kinto_layouts.split(",") if x]
    if not args.kinto_layouts or not set(args.kinto_layouts) <= {"shared", "per-device"}:
        ap.error("--kinto-layouts takes shared and/or per-device")
    exit_on_sigterm(args.time_cap)
    os.chdir(ROOT)
    res, _ = run_uvloop(lambda: run(args))
    summary = summarize(res)
    print("\n".join(report(res, summary)))
    print(json.dumps({"bench": "sync_vs_kinto", **summary, "raw": res}, default=str, separators=(",", ":")))


if __name__ == "__main__":
    main()
