"""Listing accounts through HTTP in a 100,000-account org, 8 concurrent clients, SQLite and PostgreSQL.

    .venv/bin/python bench/list_accounts.py [--workers 1] [--engines sqlite,postgres]
        [--pg-url postgresql://postgres@127.0.0.1:5432] [--requests 2000] [--warmup 200]
        [--concurrency 8] [--time-cap 60] [--accounts 100000] [--reps 50] [--days 7]
        [--baseline-src DIR]

Target (issue): listing 100 accounts filtered by owner, status and a name
search, p95 under 20 ms through HTTP with 8 concurrent clients, on both
databases.

For each engine: a fresh migrated database (SQLite in a temporary directory;
PostgreSQL ``fs_bench_list``, created and dropped here), the demo org loaded
(timed), a query mix taken from the real data (owners are reps, statuses
customer/prospect, ``q`` a 3-6 letter prefix of a word in one of that owner's
account names), then:

* DB-direct, in this process and serially: the service call the route makes,
  the same SQL on one persistent connection, and the plans (EXPLAIN);
* HTTP: the real server (``fieldsales serve --workers N``) as a subprocess and
  a load generator in another process (httpx.AsyncClient, N keep-alive
  connections, one asyncio task each) per scenario: warm-up, then a fixed
  number of requests or the time cap, whichever comes first. Every response
  must be 200 with the expected number of items, else it counts as an error.
  With ``--baseline-src DIR`` a second server runs the code in DIR on the
  same database and every scenario runs on it too, just before the current
  code, so before and after are measured under the same conditions.

Progress goes to stderr, the report to stdout. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import sys
import time
import unicodedata
import uuid
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._sync import (
    RawHTTP,
    cpu_ticks,
    database,
    engine_names,
    fmt,
    log,
    machine_ticks,
    parse_args,
    postgres_pids,
    run_loadgen,
    run_script,
    stats,
)

PG_DATABASE = "fs_bench_list"
TARGET_P95_MS = 20.0
STATUSES = ("customer", "prospect")
LIMIT = 100
#: Scenarios repeated with the raw asyncio client to show how much httpx adds.
RAW_CHECK = ("health_live", "admin_owner_status_q")


# =============================================================================
# Load generator (runs in its own process: `list_accounts.py --loadgen SPEC OUT`)
# =============================================================================
async def _loadgen(spec: dict) -> dict:
    import httpx
    import msgspec

    sc = spec["scenario"]
    conc, cap = spec["concurrency"], spec["time_cap_s"]
    headers = {"Authorization": f"Bearer {sc['token']}"} if sc.get("token") else {}
    mix = sc["mix"]
    order = list(range(len(mix)))
    random.Random(sc["name"]).shuffle(order)
    deadline = time.monotonic() + cap
    errors: list[str] = []
    out = {"name": sc["name"], "client": spec["client"], "errors": 0, "warmup_errors": 0,
           "timed_out": False}
    decoder = msgspec.json.Decoder()

    if spec["client"] == "raw":
        # The raw-client check: a minimal asyncio-streams client, to see how much httpx adds;
        # a dropped connection is an error here, not retried.
        conns = [await RawHTTP(spec["base_url"], sc.get("token"), timeout=10.0, retry=False).connect()
                 for _ in range(conc)]
        client = None
    else:
        limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
        client = httpx.AsyncClient(base_url=spec["base_url"], limits=limits, timeout=10.0,
                                   headers=headers)

    async def one(slot: int, params: dict) -> tuple[int, bytes]:
        if client is not None:
            r = await client.get(sc["path"], params=params)
            return r.status_code, r.content
        return await conns[slot].request("GET", f"{sc['path']}?{urlencode(params)}" if params else sc["path"])

    async def phase(n: int, latencies: list[float] | None) -> int:
        counter = itertools.count()
        failed = 0

        async def worker(slot: int) -> None:
            nonlocal failed
            while True:
                i = next(counter)
                if i >= n:
                    return
                if time.monotonic() > deadline:
                    out["timed_out"] = True
                    return
                params, expected = mix[order[i % len(order)]]
                began = time.perf_counter()
                try:
                    status, body = await one(slot, params)
                    ms = (time.perf_counter() - began) * 1000
                except Exception as exc:  # noqa: BLE001  (timeouts, resets: an error, no latency)
                    failed += 1
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    if client is None:  # the connection is in an unknown state: replace it
                        await conns[slot].close()
                        await conns[slot].connect()
                    continue
                problem = None
                if status != 200:
                    problem = f"HTTP {status}: {body[:150]!r}"
                elif expected is not None:
                    got = len(decoder.decode(body)["items"])
                    if got != expected:
                        problem = f"{got} items, expected {expected} for {params}"
                if problem:
                    failed += 1
                    errors.append(problem)
                if latencies is not None:
                    latencies.append(ms)

        await asyncio.gather(*(worker(slot) for slot in range(conc)))
        return failed

    try:
        out["warmup_errors"] = await phase(spec["warmup"], None)
        latencies: list[float] = []
        pg_pids = postgres_pids() if spec["postgres"] else []
        ticks0, cpu0 = cpu_ticks(spec["server_pids"]), time.process_time()
        pg0, (busy0, total0) = cpu_ticks(pg_pids), machine_ticks()
        began = time.perf_counter()
        out["errors"] = await phase(spec["requests"], latencies)
        out["wall_s"] = time.perf_counter() - began
        hz = os.sysconf("SC_CLK_TCK")
        out["server_cpu_s"] = (cpu_ticks(spec["server_pids"]) - ticks0) / hz
        out["client_cpu_s"] = time.process_time() - cpu0
        out["postgres_cpu_s"] = (cpu_ticks(pg_pids) - pg0) / hz if pg_pids else None
        busy1, total1 = machine_ticks()
        out["machine_busy"] = (busy1 - busy0) / max(total1 - total0, 1)
    finally:
        if client is not None:
            await client.aclose()
        else:
            for conn in conns:
                await conn.close()
    out["latencies_ms"] = latencies
    out["error_samples"] = errors[:5]
    return out


# =============================================================================
# The benchmark driver
# =============================================================================
def fold(text: str) -> str:
    """Lower-case without diacritics, like FTS5 unicode61 remove_diacritics."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower())
                   if not unicodedata.combining(c))


def name_tokens(name: str) -> list[str]:
    return re.findall(r"[^\W_]+", fold(name))


def matches(engine: str, name: str, q: str) -> bool:
    """What ``server.db.search.name_search`` finds, re-implemented independently.

    SQLite (FTS5): every query token starts some word of the name. PostgreSQL
    (ILIKE): the query is a case-insensitive substring of the name.
    """
    if engine == "sqlite":
        words = name_tokens(name)
        return all(any(w.startswith(t) for w in words) for t in name_tokens(q))
    return q.lower() in name.lower()


def pick_prefix(rng: random.Random, name: str) -> str | None:
    words = [w for w in re.findall(r"[A-Za-z]+", name) if len(w) >= 3]
    if not words:
        return None
    word = rng.choice(words)
    return word[: rng.randint(3, min(6, len(word)))]


class Setup:
    """What the query mix is built from, read from the loaded database."""

    def __init__(self) -> None:
        self.org_id: uuid.UUID
        self.accounts: list[dict] = []
        self.by_owner: dict[uuid.UUID, list[dict]] = defaultdict(list)
        self.admin: dict
        self.manager: dict
        self.team_reps: list[uuid.UUID] = []
        self.manager_visible: list[dict] = []


async def read_setup(summary) -> Setup:
    from server.access.principal import Principal
    from server.access.scope import Scope
    from server.accounts.tables import Account
    from server.users.tables import User

    s = Setup()
    s.org_id = summary.org_id
    s.accounts = await Account.select(Account.id, Account.name, Account.owner_id, Account.status).where(
        (Account.org_id == s.org_id) & Account.deleted_at.is_null())
    for a in s.accounts:
        s.by_owner[a["owner_id"]].append(a)
    users = await User.select(User.id, User.email, User.role, User.manager_id).where(
        (User.org_id == s.org_id) & User.deleted_at.is_null()).order_by(User.email)
    s.admin = next(u for u in users if u["role"] == "admin")
    managers = [u for u in users if u["role"] == "manager"]
    s.manager = managers[0]
    s.team_reps = [u["id"] for u in users if u["manager_id"] == s.manager["id"] and u["role"] == "rep"
                   and s.by_owner.get(u["id"])]
    scope = await Scope.build(Principal(user_id=s.manager["id"], org_id=s.org_id, role="manager",
                                        session_id=uuid.uuid4()))
    s.manager_visible = await Account.select(Account.id, Account.name, Account.status).where(
        scope.accounts() & Account.deleted_at.is_null())
    return s


def build_scenarios(engine: str, s: Setup, seed: int, size: int = 200) -> list[dict]:
    """Scenarios with their query mixes: [(params, expected item count)]."""
    rng = random.Random(seed)
    reps = sorted(s.by_owner, key=str)

    def expected(rows, status, q):
        n = sum(1 for a in rows if a["status"] == status and (q is None or matches(engine, a["name"], q)))
        return min(LIMIT, n)

    def owner_q_mix(owners):
        mix = []
        while len(mix) < size:
            owner = rng.choice(owners)
            acc = rng.choice(s.by_owner[owner])
            q = pick_prefix(rng, acc["name"])
            if q is None:
                continue
            status = rng.choice(STATUSES)
            params = {"owner_id": str(owner), "status": status, "q": q, "limit": LIMIT}
            mix.append((params, expected(s.by_owner[owner], status, q)))
        return mix

    owner_status = [({"owner_id": str(o), "status": st, "limit": LIMIT}, expected(s.by_owner[o], st, None))
                    for o in reps for st in STATUSES]
    team_q = []
    while len(team_q) < size:
        q = pick_prefix(rng, rng.choice(s.manager_visible)["name"])
        if q:
            st = rng.choice(STATUSES)
            team_q.append(({"status": st, "q": q, "limit": LIMIT}, expected(s.manager_visible, st, q)))
    team_status = [({"status": st, "limit": LIMIT}, expected(s.manager_visible, st, None))
                   for st in STATUSES]
    return [
        {"name": "health_live", "role": None, "path": "/health/live", "mix": [({}, None)],
         "what": "GET /health/live: no auth, no DB (HTTP + client floor)"},
        {"name": "admin_owner_status_q", "role": "admin", "path": "/api/v1/accounts",
         "mix": owner_q_mix(reps), "what": "admin: owner_id + status + q, limit 100 (THE TARGET)"},
        {"name": "admin_owner_status", "role": "admin", "path": "/api/v1/accounts",
         "mix": owner_status, "what": "admin: owner_id + status, limit 100"},
        {"name": "manager_owner_status_q", "role": "manager", "path": "/api/v1/accounts",
         "mix": owner_q_mix(s.team_reps), "what": "manager: team rep's owner_id + status + q"},
        {"name": "manager_team_status_q", "role": "manager", "path": "/api/v1/accounts",
         "mix": team_q, "what": "manager: whole scope, status + q"},
        {"name": "manager_team_status", "role": "manager", "path": "/api/v1/accounts",
         "mix": team_status, "what": "manager: whole scope, status only"},
    ]


# -- DB-direct measurements ----------------------------------------------------
@contextlib.contextmanager
def capture_queries():
    """Record the (sql, args) compiled meanwhile, to EXPLAIN exactly what the service sends.

    Every statement is compiled from a QueryString, whether it runs through
    Piccolo's engine or ``server.db.engine.read_values``.
    """
    from piccolo.querystring import QueryString

    seen = []
    original = QueryString.compile_string

    def spy(self, *args, **kwargs):
        seen.append(original(self, *args, **kwargs))
        return seen[-1]

    QueryString.compile_string = spy
    try:
        yield seen
    finally:
        QueryString.compile_string = original


@contextlib.asynccontextmanager
async def persistent_connection(engine):
    """One connection kept open: aiosqlite with Piccolo's settings, or one from the asyncpg pool."""
    if engine.engine_type == "sqlite":
        import aiosqlite
        from piccolo.engine.sqlite import dict_factory

        conn = await aiosqlite.connect(**engine.connection_kwargs)
        conn.row_factory = dict_factory
        await conn.execute("PRAGMA foreign_keys = 1")
        try:
            async def fetch(sql, args):
                async with conn.execute(sql, args) as cur:
                    return await cur.fetchall()
            yield fetch
        finally:
            await conn.close()
    else:
        async with engine.pool.acquire() as conn:
            async def fetch(sql, args):
                return await conn.fetch(sql, *args)
            yield fetch


async def db_direct(engine, s: Setup, scenarios: list[dict], samples: int) -> dict:
    """Serial, in-process timings of the list query and the plan of the first query per scenario."""
    from server.access.principal import Principal
    from server.access.scope import Scope
    from server.accounts import service
    from server.accounts.tables import Account

    principals = {
        "admin": Principal(user_id=s.admin["id"], org_id=s.org_id, role="admin", session_id=uuid.uuid4()),
        "manager": Principal(user_id=s.manager["id"], org_id=s.org_id, role="manager",
                             session_id=uuid.uuid4()),
    }
    etype = engine.engine_type
    out: dict = {"scenarios": {}, "plans": {}}
    async with persistent_connection(engine) as fetch:
        # Fixed cost of one query: Piccolo's path vs a connection kept open. A query that
        # touches a table also makes a new SQLite connection read and parse the schema.
        from piccolo.querystring import QueryString

        out["probes"] = {}
        account_id = s.accounts[0]["id"]
        for label, template, qargs in (("SELECT 1", "SELECT 1", ()),
                                       ("SELECT id FROM accounts WHERE id = ?",
                                        "SELECT id FROM accounts WHERE id = {}", (account_id,))):
            sql, sql_args = QueryString(template, *qargs).compile_string(engine_type=etype)
            through, kept = [], []
            for _ in range(samples):
                t = time.perf_counter()
                await Account.raw(template, *qargs)
                through.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                await fetch(sql, sql_args)
                kept.append((time.perf_counter() - t) * 1000)
            out["probes"][label] = (stats(through), stats(kept))

        for sc in scenarios:
            if sc["role"] is None:
                continue
            principal = principals[sc["role"]]
            scope_ms, svc_ms, raw_ms = [], [], []
            for i in range(samples):
                params, _ = sc["mix"][i % len(sc["mix"])]
                t = time.perf_counter()
                scope = await Scope.build(principal)
                scope_ms.append((time.perf_counter() - t) * 1000)
                f = service.AccountFilter(
                    owner_id=uuid.UUID(params["owner_id"]) if "owner_id" in params else None,
                    status=params.get("status"), q=params.get("q"))
                with capture_queries() as seen:
                    t = time.perf_counter()
                    await service.list_accounts(scope, f, limit=LIMIT)
                    svc_ms.append((time.perf_counter() - t) * 1000)
                sql, args = seen[-1]
                t = time.perf_counter()
                await fetch(sql, args)
                raw_ms.append((time.perf_counter() - t) * 1000)
                if i == 0:
                    if etype == "sqlite":
                        rows = await fetch("EXPLAIN QUERY PLAN " + sql, args)
                        plan = [r["detail"] for r in rows]
                    else:
                        rows = await fetch("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, args)
                        plan = [r["QUERY PLAN"] for r in rows]
                    out["plans"][sc["name"]] = {"params": params, "sql": sql, "plan": plan}
            out["scenarios"][sc["name"]] = {"scope": stats(scope_ms), "service": stats(svc_ms),
                                            "raw": stats(raw_ms)}
    return out


# -- HTTP ----------------------------------------------------------------------
def run_scenario(base_url: str, scenario: dict, token: str | None, server_pids: list[int],
                 args, client: str = "httpx", postgres: bool = False) -> dict:
    spec = {"base_url": base_url, "client": client, "concurrency": args.concurrency,
            "postgres": postgres,
            "warmup": args.warmup,
            "requests": args.requests, "time_cap_s": args.time_cap, "server_pids": server_pids,
            "scenario": {"name": scenario["name"], "path": scenario["path"], "token": token,
                         "mix": scenario["mix"]}}
    return run_loadgen(__file__, spec, timeout_s=args.time_cap + 60)


async def run_engine(engine_name: str, url: str, args) -> dict:
    from bench._common import Server, bound_engine, login
    from server.demo import load_demo

    run: dict = {"engine": engine_name}
    async with bound_engine(url) as engine:
        log(f"{engine_name}: loading demo org ({args.reps} reps, {args.accounts:,} accounts, "
            f"{args.days} days)")
        steps: dict[str, float] = {}
        began = time.perf_counter()

        def progress(step: str, done: int, total: int) -> None:
            if done == total and step not in steps:
                steps[step] = time.perf_counter() - began
                log(f"{engine_name}:   {step} done at {steps[step]:.1f} s")

        summary = await load_demo(reps=args.reps, accounts=args.accounts, days=args.days,
                                  seed=args.seed, progress=progress)
        run["load_s"] = time.perf_counter() - began
        run["counts"] = summary.counts
        if engine_name == "postgres" and args.analyze:
            t = time.perf_counter()
            await engine.pool.execute("ANALYZE")
            run["analyze_s"] = time.perf_counter() - t
        log(f"{engine_name}: loaded in {run['load_s']:.1f} s; building the query mix")
        s = await read_setup(summary)
        scenarios = build_scenarios(engine_name, s, args.seed)
        run["mix"] = {sc["name"]: mix_summary(sc["mix"]) for sc in scenarios}
        run["what"] = {sc["name"]: sc["what"] for sc in scenarios}
        run["team"] = (s.manager["email"], len(s.team_reps), len(s.manager_visible))
        log(f"{engine_name}: DB-direct timings ({args.direct_samples} serial queries per scenario)")
        run["direct"] = await db_direct(engine, s, scenarios, args.direct_samples)
        admin_email, manager_email = s.admin["email"], s.manager["email"]
    # Tokens must outlive the run (15 min by default).
    env = {"FIELDSALES_ACCESS_TOKEN_TTL": "7200"}
    servers = {"": env}  # result-key prefix -> server environment
    if args.baseline_src:  # the same scenarios, same database, served by another source tree
        servers = {"baseline_": {**env, "PYTHONPATH": str(Path(args.baseline_src).resolve())}, **servers}
    with contextlib.ExitStack() as stack:
        srvs, tokens = {}, {}
        for key, server_env in servers.items():
            log(f"{engine_name}: starting fieldsales serve --workers {args.workers}"
                + (f" from {args.baseline_src}" if key else ""))
            srvs[key] = srv = stack.enter_context(Server(url, workers=args.workers, extra_env=server_env))
            tokens[key] = {"admin": login(srv.base_url, admin_email),
                           "manager": login(srv.base_url, manager_email)}
            run[f"{key}http"], run[f"{key}raw"] = {}, {}
        run["server_processes"] = len(srvs[""].pids())
        plan = [(sc, "httpx") for sc in scenarios]
        if args.raw_check:  # the floor and the target again with a near-zero-overhead client
            plan += [(sc, "raw") for sc in scenarios if sc["name"] in RAW_CHECK]
        for sc, client in plan:
            for key, srv in srvs.items():  # baseline and current one after the other: same conditions
                log(f"{engine_name}: HTTP {sc['name']} [{client}]{' baseline' if key else ''} "
                    f"({args.warmup} warm-up + {args.requests} requests, {args.concurrency} clients)")
                res = run_scenario(srv.base_url, sc, tokens[key].get(sc["role"]) if sc["role"] else None,
                                   srv.pids(), args, client, engine_name == "postgres")
                res["stats"] = stats(res.pop("latencies_ms"))
                run[f"{key}{'http' if client == 'httpx' else 'raw'}"][sc["name"]] = res
                log(f"{engine_name}:   p50 {res['stats']['p50']:.1f} ms  p95 {res['stats']['p95']:.1f} ms  "
                    f"errors {res['errors'] + res['warmup_errors']}")
        run["server_log_tail"] = srvs[""].log_tail(10)
    return run


def mix_summary(mix: list) -> str:
    exp = [e for _, e in mix if e is not None]
    if not exp:
        return f"{len(mix)} distinct request(s)"
    full = sum(1 for e in exp if e == LIMIT)
    zero = sum(1 for e in exp if e == 0)
    return (f"{len(mix)} distinct queries; expected items: mean {sum(exp) / len(exp):.1f}, "
            f"{full} full pages (100), {zero} empty")


# -- report --------------------------------------------------------------------
def fmt2(x: float) -> str:
    return fmt(x, 2)


def http_table(results: dict) -> list[str]:
    L = [("| scenario | requests | errors | req/s | p50 | p95 | p99 | max | server CPU ms/req "
          "| postgres CPU ms/req | client CPU ms/req | machine busy | p95 < 20 ms |"),
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        st = r["stats"]
        n = max(st["n"], 1)
        errors = r["errors"] + r["warmup_errors"]
        ok = "yes" if st["p95"] < TARGET_P95_MS and errors == 0 else "NO"
        L.append(f"| {name} | {st['n']} | {errors} | {st['n'] / r['wall_s']:.0f} | "
                 f"{fmt(st['p50'])} | {fmt(st['p95'])} | {fmt(st['p99'])} | {fmt(st['max'])} | "
                 f"{r['server_cpu_s'] * 1000 / n:.2f} | "
                 + ("-" if r["postgres_cpu_s"] is None else f"{r['postgres_cpu_s'] * 1000 / n:.2f}")
                 + f" | {r['client_cpu_s'] * 1000 / n:.2f} | {r['machine_busy']:.0%} | "
                 f"{'-' if name == 'health_live' else ok}"
                 + (" (time cap hit)" if r["timed_out"] else "") + " |")
    return L


def report(runs: list[dict], args) -> str:
    from bench._common import machine_note

    L = [
        "# Listing accounts through HTTP: 8 concurrent clients",
        "",
        machine_note() + ".",
        (f"server: `fieldsales serve --workers {args.workers}` (uvicorn, log level warning, no access log); "
        f"load generator: a separate process, httpx.AsyncClient, {args.concurrency} keep-alive "
        f"connections each driven by one asyncio task; {args.warmup} warm-up then {args.requests} "
        f"requests per scenario, cap {args.time_cap:g} s; latency = client-side time to full response "
        "body. The client competes with the server for the 2 cores and adds its own overhead: "
        "see health_live (no DB, no auth) for the floor, and the raw-client rows. "
        "CPU per request over the measured requests: server = utime+stime of the server "
        "process(es) (with SQLite this includes the queries, which run in-process); postgres = "
        "every `postgres` process on the machine (shared: other users' load counts too); "
        "machine busy = all cores, from /proc/stat. Closed loop, no think time: by Little's law "
        f"mean latency = {args.concurrency} / throughput, so p95 < 20 ms needs well over "
        f"{args.concurrency / 0.020:.0f} req/s."),
        f"demo org: {args.reps} reps, {args.accounts:,} accounts, {args.days} days of activity, seed {args.seed}.",
        "",
    ]
    for run in runs:
        L += [f"## {run['engine']}", ""]
        rows = sum(run["counts"].values())
        L.append(f"demo load: {run['load_s']:.1f} s for {rows:,} rows "
                 f"({run['counts'].get('accounts', 0):,} accounts, {rows / run['load_s']:,.0f} rows/s)"
                 + (f"; then ANALYZE {run['analyze_s']:.1f} s" if "analyze_s" in run else ""))
        m, team, vis = run["team"]
        L.append(f"manager: {m}, {team} reps in team, {vis:,} accounts in scope; "
                 f"server processes: {run['server_processes']} (workers {args.workers})")
        L += ["", "query mixes:"]
        for name, what in run["what"].items():
            L.append(f"  {name:<24} {what}; {run['mix'][name]}")
        L += ["", "### HTTP, httpx client (ms)", ""] + http_table(run["http"])
        if run["raw"]:
            L += ["", "### HTTP, raw asyncio-streams client (same server, same mix; client-overhead check, ms)",
                  ""] + http_table(run["raw"])
        if "baseline_http" in run:
            L += ["", f"### HTTP, baseline server (`--baseline-src {args.baseline_src}`), httpx client (ms)",
                  ""] + http_table(run["baseline_http"])
            if run["baseline_raw"]:
                L += ["", "### HTTP, baseline server, raw client (ms)", ""] + http_table(run["baseline_raw"])
            L += ["", "### before (baseline) and after, same run: p95 ms", "",
                  "| scenario | client | baseline p95 | current p95 | current/baseline |", "|---|---|---|---|---|"]
            for key in ("http", "raw"):
                for name, r in run[key].items():
                    before, after = run[f"baseline_{key}"][name]["stats"]["p95"], r["stats"]["p95"]
                    L.append(f"| {name} | {'httpx' if key == 'http' else 'raw'} | {fmt(before)} | "
                             f"{fmt(after)} | {after / before:.2f} |")
        samples = [(f"{n} [{r['client']}]", e) for key in ("http", "raw", "baseline_http", "baseline_raw")
                   for n, r in run.get(key, {}).items() for e in r["error_samples"]]
        if samples:
            L += ["", "error samples:"] + [f"  {n}: {e}" for n, e in samples[:10]]
            L += ["", "server log tail:"] + [f"  {x}" for x in run["server_log_tail"].splitlines()]
        d = run["direct"]
        L += ["", f"### DB-direct, serial, in-process ({args.direct_samples} queries each, ms)", "",
              "fixed cost of one query"
              + (" (Piccolo's SQLite engine opens a new aiosqlite connection, and thread, per query "
                 "outside a transaction):" if run["engine"] == "sqlite" else " (asyncpg pool):"),
              "", "| probe | through Piccolo p50 | p95 | kept-open connection p50 | p95 |",
              "|---|---|---|---|---|"]
        for label, (through, kept) in d["probes"].items():
            L.append(f"| `{label}` | {fmt2(through['p50'])} | {fmt2(through['p95'])} | "
                     f"{fmt2(kept['p50'])} | {fmt2(kept['p95'])} |")
        L += ["",
              "| scenario | Scope.build p50 | service.list_accounts p50 | p95 | same SQL, kept connection p50 | p95 |",
              "|---|---|---|---|---|---|"]
        for name, x in d["scenarios"].items():
            L.append(f"| {name} | {fmt2(x['scope']['p50'])} | {fmt2(x['service']['p50'])} | "
                     f"{fmt2(x['service']['p95'])} | {fmt2(x['raw']['p50'])} | {fmt2(x['raw']['p95'])} |")
        L += ["", "### plans (first query of each scenario)", ""]
        for name, p in d["plans"].items():
            L.append(f"{name}  {json.dumps(p['params'])}")
            L += [f"    {line[:220]}" + (" ..." if len(line) > 220 else "") for line in p["plan"]]
        L.append("")
    if len(runs) == 2:
        a, b = runs
        L += ["## pg/sqlite", "", "| scenario | sqlite p95 | postgres p95 | pg/sqlite p95 |", "|---|---|---|---|"]
        for key, label in (("http", ""), ("raw", " [raw client]")):
            for name in a[key]:
                if name in b[key]:
                    pa, pb = a[key][name]["stats"]["p95"], b[key][name]["stats"]["p95"]
                    L.append(f"| {name}{label} | {fmt(pa)} | {fmt(pb)} | {pb / pa:.2f} |")
        L.append(f"\ndemo load pg/sqlite: {b['load_s'] / a['load_s']:.2f}")
    return "\n".join(L)


async def main() -> None:
    from bench._common import DEFAULT_PG_URL

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1, help="server workers (default 1)")
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL,
                        help="PostgreSQL server URL without a database (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--time-cap", type=float, default=60.0, help="seconds per scenario")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--direct-samples", type=int, default=200)
    parser.add_argument("--no-raw-check", dest="raw_check", action="store_false",
                        help="skip repeating health_live and the target with the raw client")
    parser.add_argument("--baseline-src", metavar="DIR",
                        help="also serve from the source tree DIR (holding a `server` package, e.g. "
                             "`git archive HEAD server | tar -x -C DIR`) and run every HTTP scenario "
                             "against it too, just before the current code: before/after in one run")
    parser.add_argument("--no-analyze", dest="analyze", action="store_false",
                        help="PostgreSQL: skip ANALYZE after loading (autovacuum would run it soon)")
    parser.add_argument("--max-seconds", type=float, default=1800,
                        help="stop (and clean up) after this long whatever happens")
    args = parse_args(parser)
    runs = []
    for name in engine_names(args):
        if name not in ("sqlite", "postgres"):
            parser.error(f"unknown engine {name!r}")
        async with database(name, args.pg_url, PG_DATABASE) as url:
            runs.append(await run_engine(name, url, args))
    print(report(runs, args))


if __name__ == "__main__":
    run_script(main, _loadgen)
