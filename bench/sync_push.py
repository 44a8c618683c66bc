"""Sync pushes through HTTP: one phone on an idle server, then 20 phones at once.

    .venv/bin/python bench/sync_push.py [--engines sqlite,postgres] [--workers 1[,2]]
        [--batches 50] [--batch 100] [--devices 20] [--seconds 10] [--visit-share 0.0] [--profile]

Targets (issue): a 100-mutation batch (activity inserts) from one device on an
idle server at p95 under 100 ms (over 50 batches); 20 devices (20 reps, each
its own device) pushing 100-mutation batches at once for ~10 s: at least 3,000
mutations/s.

For each engine: a fresh migrated database (SQLite in a temporary directory;
PostgreSQL ``fs_bench_sync_push``, created and dropped here) holding a demo org
(``load_demo(reps=20, accounts=30000, days=36)``: ~1,500 accounts and ~6,000
activities per rep, 120,000 activities in all, so inserts go into indexes of a
realistic size). Each of 20 reps logs in from its own device. A load generator
in another process, one keep-alive connection per device (a minimal
asyncio-streams client), sends ``POST /api/v1/sync/push`` batches of
``--batch`` activity inserts (``{"type": "call", "direction": "out",
"occurred_at": <ms>, "account_id": <one of the rep's accounts>, "outcome":
"connected", "duration_s": 120}``, UUIDv7 ids made on the "phone"), with
increasing ``mutation_id`` per device:

* serial: device 1 alone, 3 warm-up batches then ``--batches`` measured;
* saturation: all devices in a closed loop (each sends its next batch when the
  previous answer arrives) for ``--seconds``, after a 2 s warm-up.

``--visit-share 0.5`` makes that share of the inserts visits checked in within
~0-150 m of their account (GPS accuracy 5-30 m), so check-in verification is in
the measured path (docs/benchmarks/checkins.md).

Every answer must be 200 with every mutation ``applied``; afterwards the
database must hold exactly the activities that were answered ``applied``.
Latency = client time from sending a batch to holding the whole answer.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._sync import (
    PUSH,
    SCHEMA_VERSION,
    SERVER_ENV,
    CpuMeter,
    RawHTTP,
    common_args,
    database,
    emit_json,
    engine_names,
    fmt,
    log,
    login_devices,
    org_args,
    parse_args,
    parse_workers,
    profile_args,
    profile_lines,
    py_spy_record,
    report_head,
    run_loadgen,
    run_script,
    stats,
    uuid7,
)

PG_DATABASE = "fs_bench_sync_push"
TARGET_P95_MS = 100.0
TARGET_MUTATIONS_PER_S = 3000.0


# =============================================================================
# Load generator (its own process)
# =============================================================================
class Phone:
    """One device: its connection, its next mutation id, its rep's accounts."""

    def __init__(self, base_url: str, dev: dict, accounts: list[str], seed: int,
                 visit_share: float = 0.0) -> None:
        self.http = RawHTTP(base_url, dev["token"])
        self.positions = dev.get("positions", {})
        self.visit_share = visit_share
        self.device_id = dev["device_id"]
        self.accounts = accounts
        self.next_id = dev.get("next_id", 1)
        self.rng = random.Random(seed)

    def batch(self, size: int) -> tuple[bytes, list[str]]:
        import msgspec

        now = int(time.time() * 1000)
        mutations, ids = [], []
        for i in range(size):
            occurred = now - 60_000 + i
            record_id = uuid7(self.rng, occurred)
            ids.append(record_id)
            account = self.rng.choice(self.accounts)
            fields = {"type": "call", "direction": "out", "occurred_at": occurred, "account_id": account,
                      "outcome": "connected", "duration_s": 120}
            at = self.positions.get(account)
            if at and self.rng.random() < self.visit_share:  # a check-in near the account (~0-150 m)
                fields = {"type": "visit", "direction": "out", "occurred_at": occurred, "account_id": account,
                          "outcome": "met", "lat": at[0] + self.rng.uniform(-0.001, 0.001),
                          "lng": at[1] + self.rng.uniform(-0.001, 0.001), "accuracy_m": self.rng.uniform(5, 30)}
            mutations.append({
                "mutation_id": self.next_id, "table": "activities", "op": "insert", "id": record_id,
                "fields": fields,
            })
            self.next_id += 1
        return msgspec.json.encode({"device_id": self.device_id, "schema_version": SCHEMA_VERSION,
                                    "mutations": mutations}), ids

    async def push(self, size: int, ledger: dict) -> float | None:
        """One batch; returns its latency in ms (None on an error, which the ledger records)."""
        import msgspec

        body, _ = self.batch(size)
        began = time.perf_counter()
        try:
            status, data = await self.http.post_json(PUSH, body)
        except Exception as exc:  # noqa: BLE001 - counted, never fatal
            ledger["errors"].append(f"{type(exc).__name__}: {exc}"[:200])
            await self.http.close()
            return None
        ms = (time.perf_counter() - began) * 1000
        ledger["sent"] += size
        if status != 200:
            ledger["errors"].append(f"HTTP {status}: {data[:200]!r}")
            return None
        results = msgspec.json.decode(data)["results"]
        applied = sum(1 for r in results if r["status"] == "applied")
        ledger["applied"] += applied
        if applied != size:
            other = [r for r in results if r["status"] != "applied"][:1]
            ledger["errors"].append(f"{size - applied} of {size} not applied, e.g. {other}"[:300])
        return ms


async def loadgen(spec: dict) -> dict:
    phones = [Phone(spec["base_url"], dev, dev["accounts"], i, spec.get("visit_share", 0.0))
              for i, dev in enumerate(spec["devices"])]
    for p in phones:
        await p.http.connect()
    size, out = spec["batch"], {}
    meter = CpuMeter(spec["server_pids"], spec["postgres"])
    try:
        # -- serial: one device on an idle server -------------------------------------------------
        first = {"sent": 0, "applied": 0, "errors": []}
        for _ in range(spec.get("serial_warmup", 3)):
            await phones[0].push(size, first)
        ledger = {"sent": 0, "applied": 0, "errors": []}
        latencies = []
        meter.start()
        for _ in range(spec["batches"]):
            ms = await phones[0].push(size, ledger)
            if ms is not None:
                latencies.append(ms)
        out["serial"] = {**ledger, **meter.stop(), "latencies_ms": latencies, "warmup_applied": first["applied"]}
        if spec.get("serial_only"):
            out["next_ids"] = [p.next_id for p in phones]
            return out

        # -- saturation: every device, closed loop -------------------------------------------------
        async def drive(phone: Phone, until: float, ledger: dict, latencies: list[float]) -> None:
            while time.monotonic() < until:
                ms = await phone.push(size, ledger)
                if ms is not None:
                    latencies.append(ms)

        warm = {"sent": 0, "applied": 0, "errors": []}
        until = time.monotonic() + spec["warmup_s"]
        await asyncio.gather(*(drive(p, until, warm, []) for p in phones))
        ledger, latencies = {"sent": 0, "applied": 0, "errors": []}, []
        meter.start()
        until = time.monotonic() + spec["seconds"]
        await asyncio.gather(*(drive(p, until, ledger, latencies) for p in phones))
        out["saturation"] = {**ledger, **meter.stop(), "latencies_ms": latencies,
                             "warmup_applied": warm["applied"], "warmup_errors": warm["errors"][:5]}
    finally:
        for p in phones:
            await p.http.close()
        out["next_ids"] = [p.next_id for p in phones]
    return out


def total_applied(res: dict) -> int:
    return sum(res[k]["applied"] + res[k]["warmup_applied"] for k in ("serial", "saturation") if k in res)


# =============================================================================
# Driver
# =============================================================================
async def count_activities(org_id: uuid.UUID) -> int:
    from server.comms.tables import Activity

    return await Activity.count().where(Activity.org_id == org_id)


async def visit_verdicts(org_id: uuid.UUID, since) -> dict[str, int]:
    """The pushed visits (received since ``since``) by verification."""
    from server.comms.tables import Activity

    visits = (Activity.org_id == org_id) & (Activity.type == "visit") & (Activity.received_at >= since)
    return {v: await Activity.count().where(visits & (Activity.verification == v))
            for v in ("verified", "out_of_range", "unverifiable")}


async def positions_of(account_ids: list[str]) -> dict[str, tuple[float, float]]:
    """(lat, lng) of those accounts that have a location (visits check in near them)."""
    from server.accounts.tables import Account

    rows = await Account.select(Account.id, Account.lat, Account.lng).where(
        Account.id.is_in([uuid.UUID(a) for a in account_ids]) & Account.lat.is_not_null())
    return {str(r["id"]): (r["lat"], r["lng"]) for r in rows}


async def run_engine(engine_name: str, args) -> dict:
    from bench._common import Server, bound_engine
    from bench._sync import accounts_of, load_demo_org

    run: dict = {"engine": engine_name, "http": {}}
    async with database(engine_name, args.pg_url, PG_DATABASE) as url:
        async with bound_engine(url) as engine:
            org = await load_demo_org(engine_name, engine, args)
            reps = org["reps"][: args.devices]
            if len(reps) < args.devices:
                raise SystemExit(f"only {len(reps)} reps for {args.devices} devices")
            targets = {r["email"]: await accounts_of(org["org_id"], r["id"], 200) for r in reps}
            positions = await positions_of([a for ids in targets.values() for a in ids])
            before = await count_activities(org["org_id"])
            run.update(load_s=org["load_s"], counts=org["counts"])
            log(f"{engine_name}: loaded in {org['load_s']:.1f} s ({sum(org['counts'].values()):,} rows)")
        for workers in parse_workers(args.workers):
            log(f"{engine_name}: fieldsales serve --workers {workers}; {args.devices} devices log in")
            began = datetime.now(UTC)
            with Server(url, workers=workers, extra_env=SERVER_ENV) as srv:
                devices = login_devices(srv.base_url, [r["email"] for r in reps])
                for d in devices:
                    d["accounts"] = targets[d["email"]]
                    d["positions"] = {a: positions[a] for a in d["accounts"] if a in positions}
                pids = srv.pids()
                spec = {"base_url": srv.base_url, "devices": devices, "batch": args.batch,
                        "batches": args.batches, "seconds": args.seconds, "warmup_s": args.warmup_seconds,
                        "visit_share": args.visit_share,
                        "server_pids": pids, "postgres": PG_DATABASE if engine_name == "postgres" else None}
                log(f"{engine_name}:   serial {args.batches} x {args.batch}, then {args.devices} devices "
                    f"for {args.seconds:g} s")
                res = run_loadgen(__file__, spec, timeout_s=600)
                res["server_processes"] = len(pids)
                res["total_applied"] = total_applied(res)
                if args.profile:
                    log(f"{engine_name}:   py-spy on the server during {args.batches} more serial batches")
                    with py_spy_record(args.py_spy, srv, args.profile_rate) as prof:
                        again = [{**spec["devices"][1], "next_id": res["next_ids"][1]}]
                        extra = run_loadgen(__file__, {**spec, "devices": again, "serial_warmup": 0,
                                                       "serial_only": True}, timeout_s=600)
                    res["total_applied"] += total_applied(extra)
                    prof["serial"] = {k: v for k, v in extra["serial"].items() if k != "latencies_ms"}
                    prof["serial"]["stats"] = stats(extra["serial"]["latencies_ms"])
                    run.setdefault("profile", {})[workers] = prof
                res["server_log_tail"] = srv.log_tail(10)
            async with bound_engine(url, run_migrations=False):
                after = await count_activities(org["org_id"])
                if args.visit_share:
                    res["visits"] = await visit_verdicts(org["org_id"], began)
                    log(f"{engine_name}:   visits by verification: {res['visits']}")
            res["stored"] = after - before
            before = after
            for phase in ("serial", "saturation"):
                r = res[phase]
                r["stats"] = stats(r.pop("latencies_ms"))
            s, z = res["serial"], res["saturation"]
            log(f"{engine_name}:   serial p50 {s['stats']['p50']:.0f} ms p95 {s['stats']['p95']:.0f} ms; "
                f"saturation {z['applied'] / z['wall_s']:,.0f} mutations/s, p95 {z['stats']['p95']:.0f} ms; "
                f"errors {len(s['errors']) + len(z['errors'])}; stored {res['stored']:,} "
                f"of {res['total_applied']:,} applied")
            run["http"][workers] = res
    return run


def summarize(run: dict, workers: int, args) -> dict:
    res = run["http"][workers]
    s, z = res["serial"], res["saturation"]
    rate = z["applied"] / z["wall_s"]
    return {
        "engine": run["engine"], "workers": workers, "server_processes": res["server_processes"],
        "batch": args.batch,
        "serial": {"client_connections": 1, "batches": s["stats"]["n"], "p50_ms": s["stats"]["p50"],
                   "p95_ms": s["stats"]["p95"], "max_ms": s["stats"]["max"],
                   "mutations_per_s": s["applied"] / s["wall_s"],
                   "server_cpu_ms_per_batch": s["server_cpu_s"] * 1000 / max(s["stats"]["n"], 1),
                   "postgres_cpu_ms_per_batch": (s["postgres_cpu_s"] * 1000 / max(s["stats"]["n"], 1)
                                                 if s["postgres_cpu_s"] is not None else None),
                   "errors": len(s["errors"]), "target_met": s["stats"]["p95"] < TARGET_P95_MS and not s["errors"]},
        "saturation": {"client_connections": args.devices, "devices": args.devices, "seconds": z["wall_s"],
                       "batches": z["stats"]["n"], "applied": z["applied"], "mutations_per_s": rate,
                       "p50_ms": z["stats"]["p50"], "p95_ms": z["stats"]["p95"], "max_ms": z["stats"]["max"],
                       "server_cpu_us_per_mutation": z["server_cpu_s"] * 1e6 / max(z["applied"], 1),
                       "postgres_cpu_us_per_mutation": (z["postgres_cpu_s"] * 1e6 / max(z["applied"], 1)
                                                        if z["postgres_cpu_s"] is not None else None),
                       "client_cpu_s": z["client_cpu_s"], "machine_busy": z["machine_busy"],
                       "errors": len(z["errors"]), "target_met": rate >= TARGET_MUTATIONS_PER_S and not z["errors"]},
        "stored_equals_applied": res["stored"] == res["total_applied"],
    }


def report(runs: list[dict], args) -> list[str]:
    L = [*report_head("Sync push through HTTP"),
         (f"demo org `load_demo(reps={args.reps}, accounts={args.accounts}, days={args.days}, seed={args.seed})`; "
          f"batches of {args.batch} activity inserts; load generator in its own process, a minimal "
          "asyncio-streams client, one keep-alive connection per device."), "",
         f"### One device, idle server ({args.batches} batches, 1 client connection; target p95 < 100 ms)", "",
         ("| engine | workers | p50 ms | p95 ms | max ms | mutations/s | server CPU ms/batch "
         "| postgres CPU ms/batch | errors | p95 < 100 ms |"),
         "|" + "---|" * 10]
    for run in runs:
        for w in run["http"]:
            s = summarize(run, w, args)["serial"]
            L.append(f"| {run['engine']} | {w} | {s['p50_ms']:.1f} | {s['p95_ms']:.1f} | {s['max_ms']:.1f} | "
                     f"{s['mutations_per_s']:,.0f} | {s['server_cpu_ms_per_batch']:.1f} | "
                     f"{fmt(s['postgres_cpu_ms_per_batch']) if s['postgres_cpu_ms_per_batch'] is not None else '-'}"
                     f" | {s['errors']} | {'yes' if s['target_met'] else 'NO'} |")
    L += ["", (f"### {args.devices} devices at once ({args.devices} client connections, closed loop, "
          f"{args.seconds:g} s; target >= 3,000 mutations/s)"), "",
          ("| engine | workers | batches | mutations applied | mutations/s | batch p50 ms | p95 ms | max ms "
          "| server CPU us/mutation | postgres CPU us/mutation | machine busy | errors | >= 3,000/s |"),
          "|" + "---|" * 13]
    for run in runs:
        for w in run["http"]:
            z = summarize(run, w, args)["saturation"]
            L.append(f"| {run['engine']} | {w} | {z['batches']} | {z['applied']:,} | {z['mutations_per_s']:,.0f} | "
                     f"{z['p50_ms']:.0f} | {z['p95_ms']:.0f} | {z['max_ms']:.0f} | "
                     f"{z['server_cpu_us_per_mutation']:.0f} | "
                     f"{fmt(z['postgres_cpu_us_per_mutation'], 0) if z['postgres_cpu_us_per_mutation'] is not None else '-'}"
                     f" | {z['machine_busy']:.0%} | {z['errors']} | {'yes' if z['target_met'] else 'NO'} |")
    L.append("")
    for run in runs:
        for w, res in run["http"].items():
            split = sorted(res["saturation"]["server_cpu_s_by_pid"].values(), reverse=True)
            if len(split) > 1:
                L.append(f"{run['engine']}, workers {w}: saturation server CPU s per process: "
                         + ", ".join(f"{x:.1f}" for x in split))
            ok = "equals" if res["stored"] == res["total_applied"] else "DIFFERS FROM"
            L.append(f"{run['engine']}, workers {w} ({res['server_processes']} server processes): "
                     f"activities stored {res['stored']:,} {ok} mutations answered applied "
                     f"{res['total_applied']:,}; demo load {run['load_s']:.1f} s")
            errors = res["serial"]["errors"] + res["saturation"]["errors"]
            if errors:
                L += ["  error samples:"] + [f"    {e}" for e in errors[:5]]
                L += ["  server log tail:"] + [f"    {x}" for x in res["server_log_tail"].splitlines()]
    for run in runs:
        for w, p in run.get("profile", {}).items():
            st = p.get("serial", {}).get("stats", {})
            what = (f"{st.get('n', 0)} more batches of {args.batch} activity inserts from one device "
                    f"(p50 {fmt(st.get('p50'))} ms while sampled)")
            L += profile_lines(p, f"py-spy on the server, push, {run['engine']}, workers {w}", what)
    return L


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_args(parser)
    org_args(parser)
    parser.add_argument("--batch", type=int, default=100, help="mutations per push (server maximum 500)")
    parser.add_argument("--batches", type=int, default=50, help="serial batches from one device")
    parser.add_argument("--devices", type=int, default=20, help="devices pushing at once")
    parser.add_argument("--seconds", type=float, default=10.0, help="saturation phase length")
    parser.add_argument("--warmup-seconds", type=float, default=2.0)
    parser.add_argument("--visit-share", type=float, default=0.0,
                        help="share of the inserts that are visits checked in near their account (0-1)")
    profile_args(parser, "also sample the server with py-spy during more serial batches")
    args = parse_args(parser)
    runs = [await run_engine(name, args) for name in engine_names(args)]
    print("\n".join(report(runs, args)))
    emit_json({"bench": "sync_push", "results": [summarize(r, w, args) for r in runs for w in r["http"]]})


if __name__ == "__main__":
    run_script(main, loadgen)
