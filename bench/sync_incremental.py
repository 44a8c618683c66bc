"""Incremental pulls with nothing new, through HTTP: pulls/s and latency, 16 phones at once.

    .venv/bin/python bench/sync_incremental.py [--engines sqlite,postgres] [--workers 1[,2]]
        [--connections 16] [--seconds 10] [--busy-writes 20] [--no-baseline] [--profile]

Target (issue): at least 1,000 pulls/s with p99 under 25 ms, with 1 and 2
workers, 16 concurrent client connections.

For each engine: a fresh migrated database (SQLite in a temporary directory;
PostgreSQL ``fs_bench_sync_incr``, created and dropped here) holding a demo org
(``load_demo(reps=20, accounts=30000, days=36)``: ~1,500 accounts, ~3,000
contacts and ~6,000 activities per rep). ``--connections`` reps each log in
from their own device and do their first sync (every page), keeping the final
cursor. Then a load generator in another process drives one keep-alive
connection per device (a minimal asyncio-streams client, closed loop, no think
time): ``POST /api/v1/sync/pull`` with the device's cursor, then the cursor it
got back, as a phone polling for changes does. Every answer must be 200 with
``has_more`` false and no change at all. 1 s of warm-up, then ``--seconds``
measured. The servers share one secret key so tokens and cursors stay valid
across the worker counts. Then the same again while one more rep's phone
pushes one activity at a time (``--busy-writes`` per second): the org's clock
keeps moving, so every pull has a window to check, though nothing in it is in
the pulling reps' scopes. For reference, the same client against
``GET /health/live`` (no auth, no database) shows the HTTP floor.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._sync import (
    PULL,
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
    pull_session,
    py_spy_record,
    report_head,
    run_loadgen,
    run_script,
    stats,
    uuid7,
)

PG_DATABASE = "fs_bench_sync_incr"
TARGET_PULLS_PER_S = 1000.0
TARGET_P99_MS = 25.0


# =============================================================================
# Load generator (its own process)
# =============================================================================
async def first_syncs(spec: dict) -> dict:
    """Each device's first sync, one after another; returns the final cursors."""
    out = []
    for dev in spec["devices"]:
        http = await RawHTTP(spec["base_url"], dev["token"], gzip=True).connect()
        try:
            res = await pull_session(http, dev["device_id"], limit=5000)
        finally:
            await http.close()
        out.append({"cursor": res["cursor"], "records": res["records"], "pages": res["pages"],
                    "server_ms": res["server_ms"]})
    return {"first": out}


async def loadgen(spec: dict) -> dict:
    import msgspec

    if spec["mode"] == "first":
        return await first_syncs(spec)
    devices = spec["devices"]
    health = spec["mode"] == "health"
    conns = [await RawHTTP(spec["base_url"], d["token"]).connect() for d in devices]
    cursors = [d["cursor"] for d in devices]
    decoder = msgspec.json.Decoder()
    errors: list[str] = []
    nonempty = itertools.count()
    writer = spec.get("writer")
    written = {"applied": 0, "errors": 0}

    async def write_loop(until: float) -> None:
        """Another rep's phone logs one activity every 1/rate s: the org clock keeps moving."""
        import random

        rng = random.Random(7)
        http = await RawHTTP(spec["base_url"], writer["token"]).connect()
        next_id, period = 1, 1.0 / writer["rate"]
        try:
            while time.monotonic() < until:
                now = int(time.time() * 1000)
                body = msgspec.json.encode({"device_id": writer["device_id"], "schema_version": SCHEMA_VERSION,
                                            "mutations": [{"mutation_id": next_id, "table": "activities",
                                                           "op": "insert", "id": uuid7(rng, now),
                                                           "fields": {"type": "call", "direction": "out",
                                                                      "occurred_at": now - 1000,
                                                                      "account_id": rng.choice(writer["accounts"]),
                                                                      "outcome": "connected", "duration_s": 60}}]})
                next_id += 1
                status, data = await http.post_json(PUSH, body)
                ok = status == 200 and b'"applied"' in data
                written["applied" if ok else "errors"] += 1
                await asyncio.sleep(period)
        finally:
            await http.close()

    async def phase(seconds: float, latencies: list[float] | None) -> int:
        until = time.monotonic() + seconds
        done = itertools.count()

        async def worker(i: int) -> None:
            http, dev = conns[i], devices[i]
            while time.monotonic() < until:
                began = time.perf_counter()
                try:
                    if health:
                        status, data = await http.request("GET", "/health/live")
                    else:
                        body = msgspec.json.encode({"device_id": dev["device_id"], "schema_version": SCHEMA_VERSION,
                                                    "cursor": cursors[i]})
                        status, data = await http.post_json(PULL, body)
                except Exception as exc:  # noqa: BLE001 - counted
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    await http.close()
                    continue
                ms = (time.perf_counter() - began) * 1000
                if status != 200:
                    errors.append(f"HTTP {status}: {data[:200]!r}")
                    continue
                if not health:
                    page = decoder.decode(data)
                    if page["has_more"] or any(any(v for v in c.values()) for c in page["changes"].values()):
                        if writer is None:
                            errors.append(f"not empty: {data[:200]!r}")
                        next(nonempty)  # with a writer: a change in this device's scope, fine
                    cursors[i] = page["cursor"]
                if latencies is not None:
                    latencies.append(ms)
                next(done)

        tasks = [worker(i) for i in range(len(devices))]
        if writer is not None:
            tasks.append(write_loop(until))
        await asyncio.gather(*tasks)
        return next(done)

    try:
        await phase(spec["warmup_s"], None)
        errors.clear()
        latencies: list[float] = []
        meter = CpuMeter(spec["server_pids"], spec["postgres"])
        meter.start()
        await phase(spec["seconds"], latencies)
        out = meter.stop()
    finally:
        for c in conns:
            await c.close()
    return {**out, "latencies_ms": latencies, "errors": len(errors), "error_samples": errors[:5],
            "cursors": cursors, "nonempty": next(nonempty), "written": written}


# =============================================================================
# Driver
# =============================================================================
async def run_engine(engine_name: str, args) -> dict:
    from bench._common import Server, bound_engine
    from bench._sync import accounts_of, load_demo_org, scope_counts

    run: dict = {"engine": engine_name, "http": {}, "health": {}}
    env = {**SERVER_ENV, "FIELDSALES_SECRET_KEY": secrets.token_urlsafe(48)}
    async with database(engine_name, args.pg_url, PG_DATABASE) as url:
        async with bound_engine(url) as engine:
            org = await load_demo_org(engine_name, engine, args)
            reps = org["reps"][: args.connections]
            if len(org["reps"]) < args.connections + (1 if args.busy_writes else 0):
                raise SystemExit(f"only {len(org['reps'])} reps for {args.connections} connections and a writer")
            writer_rep = org["reps"][args.connections] if args.busy_writes else None
            writer_accounts = await accounts_of(org["org_id"], writer_rep["id"], 200) if writer_rep else []
            expected = [sum((await scope_counts(org["org_id"], r["id"])).values()) for r in reps]
            run.update(load_s=org["load_s"], counts=org["counts"], scope_records=expected)
            log(f"{engine_name}: loaded in {org['load_s']:.1f} s; {len(reps)} reps hold "
                f"{min(expected):,}-{max(expected):,} records each")
        devices = None
        for workers in parse_workers(args.workers):
            log(f"{engine_name}: fieldsales serve --workers {workers}")
            with Server(url, workers=workers, extra_env=env) as srv:
                pids = srv.pids()
                base = {"base_url": srv.base_url, "server_pids": pids, "postgres": PG_DATABASE if engine_name == "postgres" else None,
                        "warmup_s": args.warmup_seconds, "seconds": args.seconds}
                if devices is None:
                    devices = login_devices(srv.base_url, [r["email"] for r in reps])
                    log(f"{engine_name}:   {len(devices)} first syncs")
                    first = run_loadgen(__file__, {**base, "mode": "first", "devices": devices},
                                        timeout_s=900)["first"]
                    for d, f, want in zip(devices, first, expected):
                        if f["records"] != want:
                            raise RuntimeError(f"{d['email']}: first sync gave {f['records']} records, "
                                               f"expected {want}")
                        d["cursor"] = f["cursor"]
                    run["first_sync_s"] = [f["server_ms"] / 1000 for f in first]
                log(f"{engine_name}:   {len(devices)} connections pulling for {args.seconds:g} s")
                res = run_loadgen(__file__, {**base, "mode": "pull", "devices": devices},
                                  timeout_s=args.seconds + 120)
                for d, c in zip(devices, res.pop("cursors")):
                    d["cursor"] = c
                res["stats"] = stats(res.pop("latencies_ms"))
                res["server_processes"] = len(pids)
                run["http"][workers] = res
                st = res["stats"]
                log(f"{engine_name}:   {st['n'] / res['wall_s']:,.0f} pulls/s, p50 {st['p50']:.1f} ms, "
                    f"p99 {st['p99']:.1f} ms, errors {res['errors']}")
                if args.busy_writes:
                    log(f"{engine_name}:   again while another rep pushes {args.busy_writes:g} activities/s")
                    w = login_devices(srv.base_url, [writer_rep["email"]])[0]
                    busy = run_loadgen(__file__, {**base, "mode": "pull", "devices": devices,
                                                  "writer": {**w, "accounts": writer_accounts,
                                                             "rate": args.busy_writes}},
                                       timeout_s=args.seconds + 120)
                    for d, c in zip(devices, busy.pop("cursors")):
                        d["cursor"] = c
                    busy["stats"] = stats(busy.pop("latencies_ms"))
                    run.setdefault("busy", {})[workers] = busy
                    st = busy["stats"]
                    log(f"{engine_name}:   {st['n'] / busy['wall_s']:,.0f} pulls/s, p50 {st['p50']:.1f} ms, "
                        f"p99 {st['p99']:.1f} ms, errors {busy['errors']}, {busy['written']['applied']} writes")
                if args.baseline:
                    h = run_loadgen(__file__, {**base, "mode": "health", "devices": devices,
                                               "seconds": min(args.seconds, 5.0)}, timeout_s=120)
                    h.pop("cursors")
                    h["stats"] = stats(h.pop("latencies_ms"))
                    run["health"][workers] = h
                if args.profile and workers == parse_workers(args.workers)[0]:
                    log(f"{engine_name}:   py-spy on the server during {args.seconds:g} s more")
                    with py_spy_record(args.py_spy, srv, args.profile_rate) as prof:
                        extra = run_loadgen(__file__, {**base, "mode": "pull", "devices": devices},
                                            timeout_s=args.seconds + 120)
                    for d, c in zip(devices, extra.pop("cursors")):
                        d["cursor"] = c
                    prof["stats"] = stats(extra.pop("latencies_ms"))
                    prof["wall_s"] = extra["wall_s"]
                    run.setdefault("profile", {})[workers] = prof
                if res["errors"]:
                    res["server_log_tail"] = srv.log_tail(10)
    return run


def summarize(run: dict, workers: int, args, key: str = "http") -> dict:
    r = run[key][workers]
    st, n = r["stats"], max(r["stats"]["n"], 1)
    rate = st["n"] / r["wall_s"]
    out = {"engine": run["engine"], "workers": workers, "server_processes": run["http"][workers]["server_processes"],
           "client_connections": args.connections, "pulls": st["n"], "pulls_per_s": rate,
           "p50_ms": st["p50"], "p95_ms": st["p95"], "p99_ms": st["p99"], "max_ms": st["max"],
           "server_cpu_ms_per_pull": r["server_cpu_s"] * 1000 / n,
           "postgres_cpu_ms_per_pull": r["postgres_cpu_s"] * 1000 / n if r["postgres_cpu_s"] is not None else None,
           "client_cpu_ms_per_pull": r["client_cpu_s"] * 1000 / n, "machine_busy": r["machine_busy"],
           "errors": r["errors"],
           "target_met": rate >= TARGET_PULLS_PER_S and st["p99"] < TARGET_P99_MS and not r["errors"]}
    if key == "busy":
        out.update(org_writes=r["written"]["applied"], org_write_errors=r["written"]["errors"],
                   pulls_with_changes=r["nonempty"])
        return out
    h = run["health"].get(workers)
    if h:
        out["health_live_per_s"] = h["stats"]["n"] / h["wall_s"]
        out["health_live_p99_ms"] = h["stats"]["p99"]
    if "busy" in run and workers in run["busy"]:
        out["busy_org"] = summarize(run, workers, args, "busy")
    return out


def report(runs: list[dict], args) -> list[str]:
    L = [*report_head("Incremental pull with nothing new, through HTTP"),
         (f"demo org `load_demo(reps={args.reps}, accounts={args.accounts}, days={args.days}, seed={args.seed})`; "
          f"{args.connections} devices (one per rep, each after its first sync), one keep-alive connection "
          "each, closed loop, no think time; a minimal asyncio-streams client in its own process; "
          f"{args.warmup_seconds:g} s warm-up, {args.seconds:g} s measured. Target: >= 1,000 pulls/s, "
          "p99 < 25 ms."), "",
         ("| engine | workers | pulls | pulls/s | p50 ms | p95 ms | p99 ms | max ms | server CPU ms/pull "
         "| postgres CPU ms/pull | client CPU ms/pull | machine busy | errors | /health/live req/s (p99 ms) "
         "| target |"),
         "|" + "---|" * 15]
    for run in runs:
        for w in run["http"]:
            s = summarize(run, w, args)
            health = (f"{s['health_live_per_s']:,.0f} ({s['health_live_p99_ms']:.1f})"
                      if "health_live_per_s" in s else "-")
            L.append(f"| {run['engine']} | {w} | {s['pulls']:,} | {s['pulls_per_s']:,.0f} | {s['p50_ms']:.1f} | "
                     f"{s['p95_ms']:.1f} | {s['p99_ms']:.1f} | {s['max_ms']:.1f} | {s['server_cpu_ms_per_pull']:.2f} | "
                     + (fmt(s["postgres_cpu_ms_per_pull"], 2) if s["postgres_cpu_ms_per_pull"] is not None else "-")
                     + f" | {s['client_cpu_ms_per_pull']:.2f} | {s['machine_busy']:.0%} | {s['errors']} | {health} | "
                     f"{'yes' if s['target_met'] else 'NO'} |")
    if args.busy_writes:
        L += ["", (f"Same, while another rep's phone pushes one activity at a time, {args.busy_writes:g} per second "
                   "(the org's clock moves, so each pull checks the tables changed since its cursor; the "
                   "changes are outside the pulling reps' scopes):"), "",
              ("| engine | workers | pulls | pulls/s | p50 ms | p95 ms | p99 ms | max ms | server CPU ms/pull "
              "| postgres CPU ms/pull | machine busy | writes | errors | target |"),
              "|" + "---|" * 14]
        for run in runs:
            for w in run.get("busy", {}):
                s = summarize(run, w, args, "busy")
                L.append(f"| {run['engine']} | {w} | {s['pulls']:,} | {s['pulls_per_s']:,.0f} | {s['p50_ms']:.1f} | "
                         f"{s['p95_ms']:.1f} | {s['p99_ms']:.1f} | {s['max_ms']:.1f} | "
                         f"{s['server_cpu_ms_per_pull']:.2f} | "
                         + (fmt(s["postgres_cpu_ms_per_pull"], 2) if s["postgres_cpu_ms_per_pull"] is not None else "-")
                         + f" | {s['machine_busy']:.0%} | {s['org_writes']} | {s['errors'] + s['org_write_errors']} | "
                         f"{'yes' if s['target_met'] else 'NO'} |")
    L.append("")
    for run in runs:
        fs = run.get("first_sync_s", [])
        L.append(f"{run['engine']}: demo load {run['load_s']:.1f} s; records per rep "
                 f"{min(run['scope_records']):,}-{max(run['scope_records']):,}; first syncs (one at a time) "
                 f"{min(fs):.2f}-{max(fs):.2f} s server time each")
        for w, r in run["http"].items():
            split = sorted(r["server_cpu_s_by_pid"].values(), reverse=True)
            if len(split) > 1:
                L.append(f"  workers {w}: server CPU s per process (supervisor, resource tracker and workers): "
                         + ", ".join(f"{x:.1f}" for x in split))
            if r["errors"]:
                L += [f"  workers {w} error samples:"] + [f"    {e}" for e in r["error_samples"]]
                L += ["  server log tail:"] + [f"    {x}" for x in r.get("server_log_tail", "").splitlines()]
        for w, h in run["health"].items():
            if h["errors"]:
                L += [f"  workers {w} /health/live error samples:"] + [f"    {e}" for e in h["error_samples"]]
    for run in runs:
        for w, p in run.get("profile", {}).items():
            st = p.get("stats", {})
            what = (f"{args.connections} connections pulling with nothing new for {args.seconds:g} s "
                    f"({st.get('n', 0) / max(p.get('wall_s', 1), 1e-9):,.0f} pulls/s while sampled)")
            L += profile_lines(p, f"py-spy on the server, incremental pull, {run['engine']}, workers {w}", what)
    return L


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_args(parser)
    org_args(parser)
    parser.add_argument("--connections", type=int, default=16, help="devices pulling at once")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup-seconds", type=float, default=1.0)
    parser.add_argument("--busy-writes", type=float, default=20.0,
                        help="then again while another rep pushes this many activities/s (0: skip)")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false",
                        help="skip the GET /health/live reference run")
    profile_args(parser, "also sample the server (first --workers value) with py-spy during one more run")
    args = parse_args(parser)
    runs = [await run_engine(name, args) for name in engine_names(args)]
    print("\n".join(report(runs, args)))
    emit_json({"bench": "sync_incremental", "results": [summarize(r, w, args) for r in runs for w in r["http"]]})


if __name__ == "__main__":
    run_script(main, loadgen)
