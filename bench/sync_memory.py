"""Server memory while 20 phones do their first sync at once.

    .venv/bin/python bench/sync_memory.py [--engines sqlite,postgres] [--workers 1[,2]]
        [--phones 20] [--limits 5000,1000] [--interval 0.05]

Target (issue): server resident memory under 300 MB while 20 phones do their
first sync at once.

For each engine: a fresh migrated database (SQLite in a temporary directory;
PostgreSQL ``fs_bench_sync_mem``, created and dropped here) holding a demo org
(``load_demo(reps=20, accounts=30000, days=36)``: each rep holds ~1,500
accounts, ~3,000 contacts, ~6,000 activities plus leads, opportunities, tasks).
For each page size in ``--limits``, a fresh server (``fieldsales serve
--workers N``); the 20 reps log in from their own devices; the server idles
2 s; then a load generator in another process runs the 20 first syncs at once,
one keep-alive connection per phone (a minimal asyncio-streams client,
``Accept-Encoding: gzip``, pages of ``limit`` rows, every page until
``has_more`` is false), while this process reads VmRSS from /proc of the server
and every process below it every ``--interval`` s. Each phone must receive
exactly the records of its scope (counted in-process beforehand). RSS is
reported per process and summed (with 2 workers uvicorn runs a supervisor, a
resource tracker and the workers, and the summed RSS counts shared pages once
per process); the summed PSS (``/proc/<pid>/smaps_rollup``, shared pages split
between the processes sharing them) is sampled too.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._sync import (
    SERVER_ENV,
    CpuMeter,
    RawHTTP,
    common_args,
    database,
    emit_json,
    engine_names,
    log,
    login_devices,
    mb,
    org_args,
    parse_args,
    parse_workers,
    pull_session,
    report_head,
    run_loadgen,
    run_script,
)

PG_DATABASE = "fs_bench_sync_mem"
TARGET_MB = 300.0


# =============================================================================
# Load generator (its own process)
# =============================================================================
async def loadgen(spec: dict) -> dict:
    meter = CpuMeter(spec["server_pids"], spec["postgres"])

    async def phone(dev: dict) -> dict:
        http = await RawHTTP(spec["base_url"], dev["token"], gzip=True, timeout=300).connect()
        began = time.perf_counter()
        try:
            res = await pull_session(http, dev["device_id"], limit=spec["limit"])
        finally:
            await http.close()
        return {"records": res["records"], "pages": res["pages"], "wall_s": time.perf_counter() - began,
                "wire_bytes": res["wire_bytes"], "json_bytes": res["json_bytes"]}

    meter.start()
    phones = await asyncio.gather(*(phone(d) for d in spec["devices"]))
    return {**meter.stop(), "phones": phones}


# =============================================================================
# Driver
# =============================================================================
class Sampler(threading.Thread):
    """Reads VmRSS of the server's processes every ``interval`` s until stopped."""

    def __init__(self, srv, interval: float) -> None:
        super().__init__(daemon=True)
        self.srv, self.interval = srv, interval
        self.samples: list[tuple[float, dict[int, int]]] = []
        #: Summed proportional set size (shared pages split between the processes sharing them).
        self.pss: list[int] = []
        self._halt = threading.Event()

    def run(self) -> None:
        began = time.perf_counter()
        while not self._halt.is_set():
            self.samples.append((time.perf_counter() - began, self.srv.rss_kib()))
            self.pss.append(sum(self.srv.pss_kib().values()))
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


async def run_engine(engine_name: str, args) -> dict:
    from bench._common import Server, bound_engine, cmdline
    from bench._sync import load_demo_org, scope_counts

    run: dict = {"engine": engine_name, "cases": []}
    async with database(engine_name, args.pg_url, PG_DATABASE) as url:
        async with bound_engine(url) as engine:
            org = await load_demo_org(engine_name, engine, args)
            reps = org["reps"][: args.phones]
            if len(reps) < args.phones:
                raise SystemExit(f"only {len(reps)} reps for {args.phones} phones")
            scopes = [await scope_counts(org["org_id"], r["id"]) for r in reps]
            expected = [sum(s.values()) for s in scopes]
            run.update(load_s=org["load_s"], counts=org["counts"], scope_records=expected,
                       scope_accounts=[s["accounts"] for s in scopes])
            log(f"{engine_name}: loaded in {org['load_s']:.1f} s; {len(reps)} reps hold "
                f"{min(expected):,}-{max(expected):,} records each ({sum(expected):,} in all)")
        for workers in parse_workers(args.workers):
            for limit in [int(x) for x in args.limits.split(",") if x.strip()]:
                log(f"{engine_name}: fieldsales serve --workers {workers}; {args.phones} phones, limit {limit}")
                with Server(url, workers=workers, extra_env=SERVER_ENV) as srv:
                    devices = login_devices(srv.base_url, [r["email"] for r in reps])
                    await asyncio.sleep(2.0)
                    pids = srv.pids()
                    idle = srv.rss_kib()
                    idle_pss = sum(srv.pss_kib().values())
                    sampler = Sampler(srv, args.interval)
                    sampler.start()
                    try:
                        res = run_loadgen(__file__, {"base_url": srv.base_url, "devices": devices, "limit": limit,
                                                     "server_pids": pids, "postgres": PG_DATABASE if engine_name == "postgres" else None},
                                          timeout_s=900)
                        await asyncio.sleep(2.0)
                    finally:
                        sampler.stop()
                    after = srv.rss_kib()
                    names = {pid: cmdline(pid)[:80] for pid in pids}
                got = [p["records"] for p in res["phones"]]
                complete = got == expected
                if not complete:
                    log(f"{engine_name}: INCOMPLETE first syncs: got {got}, expected {expected}")
                samples = sampler.samples
                peak_sum = max(sum(s.values()) for _, s in samples)
                peak_at = next(t for t, s in samples if sum(s.values()) == peak_sum)
                per_pid_peak = {pid: max(s.get(pid, 0) for _, s in samples) for pid in pids}
                case = {"workers": workers, "limit": limit, "server_processes": len(pids),
                        "idle_kib": sum(idle.values()), "peak_kib": peak_sum, "peak_at_s": peak_at,
                        "idle_pss_kib": idle_pss, "peak_pss_kib": max(sampler.pss),
                        "after_kib": sum(after.values()), "largest_process_peak_kib": max(per_pid_peak.values()),
                        "per_process": [{"pid": pid, "cmd": names[pid], "idle_kib": idle.get(pid, 0),
                                         "peak_kib": per_pid_peak[pid], "after_kib": after.get(pid, 0)}
                                        for pid in pids],
                        "samples": len(samples), "wall_s": res["wall_s"], "server_cpu_s": res["server_cpu_s"],
                        "postgres_cpu_s": res["postgres_cpu_s"], "machine_busy": res["machine_busy"],
                        "records": sum(got), "pages": sum(p["pages"] for p in res["phones"]),
                        "phone_wall_s": [p["wall_s"] for p in res["phones"]],
                        "wire_bytes": sum(p["wire_bytes"] for p in res["phones"]),
                        "json_bytes": sum(p["json_bytes"] for p in res["phones"]), "complete": complete}
                run["cases"].append(case)
                log(f"{engine_name}:   RSS idle {mb(case['idle_kib']):.0f} MB, peak {mb(peak_sum):.0f} MB "
                    f"at {peak_at:.1f} s, after {mb(case['after_kib']):.0f} MB; {case['records']:,} records in "
                    f"{res['wall_s']:.1f} s")
    return run


def summarize(run: dict, case: dict, args) -> dict:
    return {"engine": run["engine"], "workers": case["workers"], "server_processes": case["server_processes"],
            "client_connections": args.phones, "phones": args.phones, "limit": case["limit"],
            "rss_idle_mb": mb(case["idle_kib"]), "rss_peak_mb": mb(case["peak_kib"]),
            "rss_after_mb": mb(case["after_kib"]),
            "pss_idle_mb": mb(case["idle_pss_kib"]), "pss_peak_mb": mb(case["peak_pss_kib"]), "largest_process_peak_mb": mb(case["largest_process_peak_kib"]),
            "records": case["records"], "pages": case["pages"], "wall_s": case["wall_s"],
            "records_per_s": case["records"] / case["wall_s"], "server_cpu_s": case["server_cpu_s"],
            "postgres_cpu_s": case["postgres_cpu_s"], "complete": case["complete"],
            "target_met": mb(case["peak_kib"]) < TARGET_MB and case["complete"]}


def report(runs: list[dict], args) -> list[str]:
    L = [*report_head("Server memory during 20 first syncs at once"),
         (f"demo org `load_demo(reps={args.reps}, accounts={args.accounts}, days={args.days}, seed={args.seed})`; "
          f"{args.phones} phones (one per rep) start their first sync together, one keep-alive connection each "
          f"({args.phones} client connections), gzip; VmRSS of the server process(es) every {args.interval:g} s, "
          "summed over processes (RSS counts pages shared between processes once per process; PSS splits "
          "them). Target: < 300 MB."), "",
         ("| engine | workers | limit | records | pages | all done in s | records/s | server CPU s "
         "| RSS idle MB | RSS peak MB | RSS 2 s after MB | PSS idle MB | PSS peak MB "
         "| largest process peak RSS MB | RSS peak < 300 MB |"),
         "|" + "---|" * 15]
    for run in runs:
        for case in run["cases"]:
            s = summarize(run, case, args)
            L.append(f"| {run['engine']} | {s['workers']} | {s['limit']} | {s['records']:,} | {s['pages']} | "
                     f"{s['wall_s']:.1f} | {s['records_per_s']:,.0f} | {s['server_cpu_s']:.1f} | "
                     f"{s['rss_idle_mb']:.0f} | {s['rss_peak_mb']:.0f} | {s['rss_after_mb']:.0f} | "
                     f"{s['pss_idle_mb']:.0f} | {s['pss_peak_mb']:.0f} | {s['largest_process_peak_mb']:.0f} | "
                     f"{'yes' if s['target_met'] else 'NO'}" + ("" if s["complete"] else " (INCOMPLETE)") + " |")
    L.append("")
    for run in runs:
        acc = run["scope_accounts"]
        L.append(f"{run['engine']}: demo load {run['load_s']:.1f} s; per rep {min(acc):,}-{max(acc):,} accounts, "
                 f"{min(run['scope_records']):,}-{max(run['scope_records']):,} records")
        for case in run["cases"]:
            L.append(f"  workers {case['workers']}, limit {case['limit']}: peak at {case['peak_at_s']:.1f} s of "
                     f"{case['samples']} samples; phones finished in {min(case['phone_wall_s']):.1f}-"
                     f"{max(case['phone_wall_s']):.1f} s; {case['json_bytes'] / 1e6:.0f} MB JSON, "
                     f"{case['wire_bytes'] / 1e6:.0f} MB gzip")
            if len(case["per_process"]) > 1:
                for p in case["per_process"]:
                    L.append(f"    pid {p['pid']} idle {mb(p['idle_kib']):.0f} MB, peak {mb(p['peak_kib']):.0f} MB, "
                             f"after {mb(p['after_kib']):.0f} MB: {p['cmd']}")
    return L


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_args(parser)
    org_args(parser)
    parser.add_argument("--phones", type=int, default=20)
    parser.add_argument("--limits", default="5000,1000", help="page sizes to run, each on a fresh server")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between RSS samples")
    args = parse_args(parser)
    runs = [await run_engine(name, args) for name in engine_names(args)]
    print("\n".join(report(runs, args)))
    emit_json({"bench": "sync_memory", "results": [summarize(r, c, args) for r in runs for c in r["cases"]]})


if __name__ == "__main__":
    run_script(main, loadgen)
