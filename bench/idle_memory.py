"""Resident memory of an idle ``fieldsales serve`` with the demo organisation loaded.

    .venv/bin/python bench/idle_memory.py [--pg] [--pg-url postgresql://postgres@127.0.0.1:5432]
                                          [--workers 1] [--idle 5]

Loads the default demo org (``load_demo()``: 20 reps, 5,000 accounts, 180 days)
into a temporary SQLite file (and, with ``--pg``, a temporary PostgreSQL
database ``fs_bench_idle``, created and dropped here), starts the real server
as a subprocess, makes a few typical requests (login, /me, list accounts, a
filtered search, get one account), idles, then reads VmRSS from
/proc/<pid>/status of the server and every process below it (uvicorn's
workers when --workers > 1; with one worker uvicorn serves in-process).
Target: under 150 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    DEFAULT_PG_URL,
    Server,
    bound_engine,
    cmdline,
    exit_on_sigterm,
    login,
    machine_note,
    pss_kib,
    temp_pg_database,
    temp_sqlite_url,
    vm_hwm_kib,
)
from bench._sync import mb, run_script
from server.demo import load_demo

PG_DATABASE = "fs_bench_idle"
TARGET_MB = 150


def typical_requests(base: str, admin_email: str) -> list[str]:
    """The requests a phone makes on opening the app; returns one line per request."""
    token = login(base, admin_email)
    lines = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        def get(path: str, **params) -> httpx.Response:
            began = time.perf_counter()
            r = c.get(path, params=params)
            ms = (time.perf_counter() - began) * 1000
            r.raise_for_status()
            lines.append(f"  GET {r.request.url.raw_path.decode()[:118]:<118} {r.status_code} {ms:7.1f} ms")
            return r

        get("/api/v1/me")
        first = get("/api/v1/accounts", limit=50).json()["items"]
        acc = first[0]
        word = next((w for w in acc["name"].split() if len(w) >= 3 and w.isalpha()), acc["name"][:3])
        get("/api/v1/accounts", owner_id=acc["owner_id"], status=acc["status"], q=word[:4], limit=100)
        get("/api/v1/accounts", owner_id=acc["owner_id"], limit=100)
        get(f"/api/v1/accounts/{acc['id']}")
    return lines


async def measure(engine_name: str, url: str, workers: int, idle_s: float) -> dict:
    async with bound_engine(url):
        began = time.perf_counter()
        summary = await load_demo()
        load_s = time.perf_counter() - began
    admin_email = summary.logins[0][0]
    with Server(url, workers=workers) as srv:
        at_start = srv.rss_kib()
        requests = typical_requests(srv.base_url, admin_email)
        await asyncio.sleep(idle_s)
        idle = srv.rss_kib()
        hwm = {pid: vm_hwm_kib(pid) for pid in idle}
        pss = {pid: pss_kib(pid) for pid in idle}
        cmds = {pid: cmdline(pid) for pid in idle}
    return {"engine": engine_name, "load_s": load_s, "accounts": summary.counts.get("accounts"),
            "rows": sum(summary.counts.values()), "at_start": at_start, "idle": idle, "hwm": hwm, "pss": pss,
            "cmds": cmds, "requests": requests}


def report(results: list[dict], workers: int, idle_s: float) -> str:
    lines = [machine_note(), (f"server: fieldsales serve --workers {workers}; idle {idle_s:g} s "
                              "after the requests; RSS = VmRSS summed over the server and its "
                              "descendants (uvicorn runs the app in-process with 1 worker)"), ""]
    for r in results:
        lines.append(f"== {r['engine']}: demo org loaded in {r['load_s']:.1f} s "
                     f"({r['accounts']:,} accounts, {r['rows']:,} rows)")
        lines += r["requests"]
        for pid, kib in r["idle"].items():
            lines.append(f"  pid {pid:<7} RSS {mb(kib):6.1f} MB  PSS {mb(r['pss'][pid]):6.1f} MB  "
                         f"peak VmHWM {mb(r['hwm'][pid]):6.1f} MB  {r['cmds'][pid][:60]}")
        lines.append("")
    lines += [("| engine | workers | processes | RSS after start (MB) | RSS idle (MB) | PSS idle (MB) "
               "| target (RSS) | verdict |"), "|---|---|---|---|---|---|---|---|"]
    for r in results:
        total = mb(sum(r["idle"].values()))
        lines.append(f"| {r['engine']} | {workers} | {len(r['idle'])} | {mb(sum(r['at_start'].values())):.1f} | "
                     f"{total:.1f} | {mb(sum(r['pss'].values())):.1f} | < {TARGET_MB} MB | "
                     f"{'PASS' if total < TARGET_MB else 'FAIL'} |")
    if workers > 1:
        lines.append("\nRSS summed over processes counts pages they share (the interpreter, "
                     "imported modules) once per process; PSS splits them.")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", action="store_true", help="also measure on PostgreSQL")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL,
                        help="PostgreSQL server URL without a database (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds idle before reading RSS")
    parser.add_argument("--max-seconds", type=float, default=900,
                        help="stop (and clean up) after this long whatever happens")
    args = parser.parse_args()
    exit_on_sigterm(args.max_seconds)
    results = []
    with temp_sqlite_url("idle.sqlite3") as url:
        results.append(await measure("sqlite", url, args.workers, args.idle))
    if args.pg:
        async with temp_pg_database(args.pg_url, PG_DATABASE) as url:
            results.append(await measure("postgres", url, args.workers, args.idle))
    print(report(results, args.workers, args.idle))


if __name__ == "__main__":
    run_script(main)
