"""Shared helpers for the sync benchmarks (``bench/sync_*.py``) and the other HTTP benchmarks.

* progress lines (``log``) and latency statistics (``percentile``, ``stats``);
* a demo org loaded with ``load_demo()`` and each rep's scope counted in-process
  (``load_org``, ``load_demo_org``), the way ``bench/list_accounts.py`` loads its data;
* phones logging in with a device (``login_devices``);
* a minimal HTTP/1.1 keep-alive client on asyncio streams (``RawHTTP``), so the
  load generator costs little CPU next to the server on a 2-core machine;
* a whole pull session over one connection (``pull_session``);
* CPU accounting of the server, PostgreSQL and the machine (``CpuMeter``);
* the common options, ``--profile`` (py-spy), the report's head and the script
  entry point (``common_args``, ``org_args``, ``profile_args``, ``parse_args``,
  ``report_head``, ``run_script``);
* load generators run in their own process (``run_loadgen`` / ``loadgen_entry``).

Importing this module costs only the standard library (``bench._common``, which
imports the server's database layer, is imported inside the functions that need
it), so a load generator process stays small. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCHEMA_VERSION = 2
PULL = "/api/v1/sync/pull"
PUSH = "/api/v1/sync/push"
LOGIN = "/api/v1/auth/login"
#: Tokens outlive a run; logins of many devices of one user are not rate limited.
SERVER_ENV = {"FIELDSALES_ACCESS_TOKEN_TTL": "7200", "FIELDSALES_LOGIN_ATTEMPTS_PER_MINUTE": "100000"}
BEGAN = time.monotonic()


def log(msg: str) -> None:
    print(f"[{time.monotonic() - BEGAN:7.1f}s] {msg}", file=sys.stderr, flush=True)


# -- statistics ---------------------------------------------------------------
def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (nan when empty)."""
    if not sorted_values:
        return math.nan
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def stats(values: list[float]) -> dict:
    v = sorted(values)
    return {"n": len(v), "p50": percentile(v, 0.50), "p95": percentile(v, 0.95),
            "p99": percentile(v, 0.99), "max": v[-1] if v else math.nan,
            "mean": sum(v) / len(v) if v else math.nan}


def median(values: list[float]) -> float:
    return percentile(sorted(values), 0.5)


def fmt(x: float, digits: int = 1) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def mb(kib: float) -> float:
    return kib / 1024


def parse_workers(text: str) -> list[int]:
    """``--workers 1`` or ``--workers 1,2``."""
    out = [int(w) for w in str(text).split(",") if w.strip()]
    if not out or any(w < 1 for w in out):
        raise ValueError(f"bad --workers {text!r}")
    return out


def emit_json(payload: dict) -> None:
    """The machine-readable result: one line on stdout, after the report."""
    print(json.dumps(payload, default=str, separators=(",", ":")), flush=True)


def report_head(title: str) -> list[str]:
    """A report's first lines: ``# title`` and the machine note."""
    from bench._common import machine_note

    return [f"# {title}", "", machine_note() + "."]


# -- CPU accounting -------------------------------------------------------------
def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over all cores, from the first line of /proc/stat."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def postgres_pids(database: str | None = None) -> list[int]:
    """PostgreSQL server processes on this machine; with ``database``, only the backends serving it.

    A backend's process title is ``postgres: <cluster>: <user> <database> <client> <state>``.
    """
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{entry}/comm").read_text().strip() != "postgres":
                    continue
                if database and f" {database} " not in Path(f"/proc/{entry}/cmdline").read_bytes().decode(
                        errors="replace").replace("\0", " ") + " ":
                    continue
                pids.append(int(entry))
    return pids


class CpuMeter:
    """CPU seconds used between ``start()`` and ``stop()``: server, PostgreSQL, this process, machine.

    ``postgres``: the benchmark's database name (count only the backends serving it, found again
    at ``stop()`` so backends started meanwhile count too), True for every PostgreSQL process,
    or None/False for none.
    """

    HZ = os.sysconf("SC_CLK_TCK")

    def __init__(self, server_pids: list[int], postgres: str | bool | None) -> None:
        self.server_pids = server_pids
        self.pg_filter = postgres if isinstance(postgres, str) else None
        self.postgres = bool(postgres)

    def _pg_ticks(self) -> dict[int, int]:
        return {pid: cpu_ticks([pid]) for pid in postgres_pids(self.pg_filter)} if self.postgres else {}

    def start(self) -> None:
        self.by_pid0 = {pid: cpu_ticks([pid]) for pid in self.server_pids}
        self.s0, self.pg0 = cpu_ticks(self.server_pids), self._pg_ticks()
        self.c0, self.m0, self.w0 = time.process_time(), machine_ticks(), time.perf_counter()

    def stop(self) -> dict:
        busy1, total1 = machine_ticks()
        pg1 = self._pg_ticks()
        return {
            "wall_s": time.perf_counter() - self.w0,
            "server_cpu_s": (cpu_ticks(self.server_pids) - self.s0) / self.HZ,
            #: Per server process (with several workers: how evenly the kernel spread the connections).
            "server_cpu_s_by_pid": {str(pid): (cpu_ticks([pid]) - t0) / self.HZ for pid, t0 in self.by_pid0.items()},
            # Backends alive at both ends count their difference, new ones all their time; ended ones are lost.
            "postgres_cpu_s": (sum(t - self.pg0.get(pid, 0) for pid, t in pg1.items()) / self.HZ
                               if self.postgres else None),
            "client_cpu_s": time.process_time() - self.c0,
            "machine_busy": (busy1 - self.m0[0]) / max(total1 - self.m0[1], 1),
        }


# -- a lean HTTP client -----------------------------------------------------------
class HTTPError(Exception):
    pass


class RawHTTP:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams; one connection per object.

    It writes the request and reads Content-Length (or chunked) bytes, nothing
    more, so the load generator stays cheap next to the server. With
    ``gzip=True`` it asks for ``Accept-Encoding: gzip`` (as phone HTTP stacks do)
    and inflates the body; ``wire_bytes`` counts what crossed the socket. With
    ``retry=False`` a dropped connection is the caller's error (no reconnect and
    second try).
    """

    def __init__(self, base_url: str, token: str | None = None, *, gzip: bool = False,
                 timeout: float = 60.0, retry: bool = True) -> None:
        u = urlsplit(base_url)
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.gzip, self.retry = gzip, retry
        head = f"Host: {self.host}:{self.port}\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        if gzip:
            head += "Accept-Encoding: gzip\r\n"
        self.head = head
        self.reader = self.writer = None
        self.wire_bytes = 0
        #: Header fields of the last response (names lower-cased).
        self.last_headers: dict[str, str] = {}

    async def connect(self) -> RawHTTP:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
            self.reader = self.writer = None

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """(status, decoded body); reconnects once if the server closed an idle connection."""
        if self.writer is None:
            await self.connect()
        try:
            return await asyncio.wait_for(self._exchange(method, path, body), self.timeout)
        except (ConnectionError, asyncio.IncompleteReadError):
            if not self.retry:
                raise
            await self.close()
            await self.connect()
            return await asyncio.wait_for(self._exchange(method, path, body), self.timeout)

    async def post_json(self, path: str, payload: bytes) -> tuple[int, bytes]:
        return await self.request("POST", path, payload)

    async def _exchange(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        extra = ""
        if body is not None:
            extra = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(f"{method} {path} HTTP/1.1\r\n{self.head}{extra}\r\n".encode() + (body or b""))
        reader = self.reader
        raw_head = await reader.readuntil(b"\r\n\r\n")
        head = raw_head.decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        fields = {}
        for line in head[1:]:
            if line:
                k, _, v = line.partition(":")
                fields[k.strip().lower()] = v.strip()
        self.last_headers = fields
        if "content-length" in fields:
            data = await reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            data = b"".join(parts)
        else:
            data = await reader.read()
        self.wire_bytes += len(raw_head) + len(data)
        if fields.get("connection", "").lower() == "close":
            await self.close()
        if fields.get("content-encoding", "").lower() == "gzip":
            data = zlib.decompress(data, 16 + zlib.MAX_WBITS)
        return status, data


# -- pull sessions ---------------------------------------------------------------------
async def pull_session(http: RawHTTP, device_id: str, *, cursor: str | None = None, limit: int | None = 5000,
                       decode: Callable[[bytes], dict] | None = None) -> dict:
    """Pull pages until ``has_more`` is false; count records per table and time each page.

    Page latency is the client's time from writing the request to holding the
    whole body (before decoding it): the server's time plus loopback transfer.
    """
    import msgspec

    decode = decode or msgspec.json.decode
    pages, counts, latencies = 0, {}, []
    json_bytes = 0
    wire0 = http.wire_bytes
    began = time.perf_counter()
    while True:
        body = {"device_id": device_id, "schema_version": SCHEMA_VERSION, "cursor": cursor}
        if limit:
            body["limit"] = limit
        t = time.perf_counter()
        status, data = await http.post_json(PULL, msgspec.json.encode(body))
        latencies.append((time.perf_counter() - t) * 1000)
        if status != 200:
            raise HTTPError(f"pull page {pages + 1}: HTTP {status}: {data[:300]!r}")
        json_bytes += len(data)
        page = decode(data)
        pages += 1
        for name, ch in page["changes"].items():
            c = counts.setdefault(name, {"upserted": 0, "deleted": 0, "removed": 0})
            for kind in c:
                c[kind] += len(ch.get(kind) or ())
        cursor = page["cursor"]
        if not page["has_more"]:
            break
    return {"pages": pages, "counts": counts, "page_ms": latencies, "server_ms": sum(latencies),
            "wall_s": time.perf_counter() - began, "json_bytes": json_bytes,
            "wire_bytes": http.wire_bytes - wire0, "cursor": cursor,
            "records": sum(c["upserted"] for c in counts.values())}


def uuid7(rng, ms: int) -> str:
    """A UUIDv7 for the instant ``ms`` (random bits from ``rng``), as phones make record ids."""
    value = (ms << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62) | rng.getrandbits(62)
    return str(uuid.UUID(int=value))


# -- logins ---------------------------------------------------------------------------
def login_devices(base_url: str, emails: list[str], password: str = "demo-password") -> list[dict]:
    """Log each email in from a new device; returns ``{"email", "device_id", "token"}`` each."""
    import httpx

    out = []
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for i, email in enumerate(emails):
            device_id = str(uuid.uuid4())
            r = client.post(LOGIN, json={"email": email, "password": password, "device_id": device_id,
                                         "device_name": f"bench phone {i + 1}", "platform": "android"})
            if r.status_code != 200:
                raise HTTPError(f"login {email}: HTTP {r.status_code}: {r.text[:300]}")
            out.append({"email": email, "device_id": device_id, "token": r.json()["access_token"]})
    return out


# -- the data -------------------------------------------------------------------------
async def load_org(*, reps: int, accounts: int, days: int, seed: int) -> dict:
    """``load_demo()`` into the bound engine; returns the org, its reps and timings.

    ``reps`` lists every rep as ``{"email", "id"}`` sorted by email.
    """
    from server.demo import load_demo
    from server.users.tables import User

    began = time.perf_counter()
    summary = await load_demo(reps=reps, accounts=accounts, days=days, seed=seed)
    load_s = time.perf_counter() - began
    rows = await User.select(User.id, User.email).where(
        (User.org_id == summary.org_id) & (User.role == "rep") & User.deleted_at.is_null()).order_by(User.email)
    return {"org_id": summary.org_id, "counts": summary.counts, "load_s": load_s,
            "reps": [{"email": r["email"], "id": r["id"]} for r in rows]}


async def load_demo_org(engine_name: str, engine, args) -> dict:
    """``load_org`` from ``--reps/--accounts/--days/--seed`` (``org_args``) with a progress line, into
    the bound ``engine``; then ANALYZE on PostgreSQL."""
    log(f"{engine_name}: loading the demo org ({args.reps} reps, {args.accounts:,} accounts, "
        f"{args.days} days)")
    org = await load_org(reps=args.reps, accounts=args.accounts, days=args.days, seed=args.seed)
    if engine_name == "postgres":
        await engine.pool.execute("ANALYZE")
    return org


async def scope_counts(org_id: uuid.UUID, user_id: uuid.UUID, role: str = "rep") -> dict[str, int]:
    """Live rows per synced table in this user's scope now (what a first pull must deliver)."""
    from server.access.principal import Principal
    from server.access.scope import Scope
    from server.sync.registry import tables_for

    scope = await Scope.build(Principal(user_id=user_id, org_id=org_id, role=role, session_id=uuid.uuid4()))
    out = {}
    for spec in tables_for(SCHEMA_VERSION):
        table = spec.table
        out[spec.name] = await table.count().where(spec.scope(scope) & table.deleted_at.is_null())  # type: ignore[attr-defined]
    return out


async def accounts_of(org_id: uuid.UUID, user_id: uuid.UUID, n: int) -> list[str]:
    """Up to ``n`` ids of accounts this rep owns (targets for pushed activities)."""
    from server.accounts.tables import Account

    rows = await Account.select(Account.id).where(
        (Account.org_id == org_id) & (Account.owner_id == user_id) & Account.deleted_at.is_null()
    ).order_by(Account.id).limit(n)
    return [str(r["id"]) for r in rows]


@contextlib.asynccontextmanager
async def database(engine_name: str, pg_url: str, pg_name: str) -> AsyncIterator[str]:
    """A fresh database URL for ``engine_name`` (temporary SQLite file or PostgreSQL database)."""
    from bench._common import temp_pg_database, temp_sqlite_url

    if engine_name == "sqlite":
        with temp_sqlite_url(f"{pg_name}.sqlite3") as url:
            yield url
    elif engine_name == "postgres":
        async with temp_pg_database(pg_url, pg_name) as url:
            yield url
    else:
        raise ValueError(f"unknown engine {engine_name!r}")


# -- command line and entry point ----------------------------------------------------------
def common_args(parser, *, max_seconds: float = 900) -> None:
    from bench._common import DEFAULT_PG_URL

    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--workers", default="1",
                        help="server worker processes, or a comma list to run each (default 1)")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL,
                        help="PostgreSQL server URL without a database (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-seconds", type=float, default=max_seconds,
                        help="stop (and clean up) after this long whatever happens")


def org_args(parser) -> None:
    """The demo org of the many-rep benchmarks (see ``load_demo_org``)."""
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--accounts", type=int, default=30_000)
    parser.add_argument("--days", type=int, default=36)


def profile_args(parser, what: str) -> None:
    """``--profile`` (its help: ``what``), ``--py-spy`` and ``--profile-rate``."""
    parser.add_argument("--profile", action="store_true", help=what)
    parser.add_argument("--py-spy", default=None, help="py-spy executable (default: on PATH or /tmp/pyspy/bin)")
    parser.add_argument("--profile-rate", type=int, default=200, help="py-spy samples per second")


def parse_args(parser):
    """``parser.parse_args()``; with ``--profile``, py-spy found (or a usage error); then the
    ``--max-seconds`` limit armed (``exit_on_sigterm``)."""
    from bench._common import exit_on_sigterm

    args = parser.parse_args()
    if getattr(args, "profile", False):
        args.py_spy = find_py_spy(args.py_spy)
        if args.py_spy is None:
            parser.error("--profile needs py-spy (pip install py-spy) on PATH or --py-spy PATH")
    exit_on_sigterm(args.max_seconds)
    return args


def engine_names(args) -> list[str]:
    """``--engines sqlite,postgres`` as a list."""
    return [e.strip() for e in args.engines.split(",") if e.strip()]


def run_script(main: Callable[[], object], loadgen: Callable[[dict], object] | None = None) -> None:
    """A bench script's ``__main__``: ``script --loadgen SPEC OUT`` runs ``loadgen`` (``loadgen_entry``);
    otherwise ``asyncio.run(main())`` from the repository root."""
    if loadgen is not None and len(sys.argv) == 4 and sys.argv[1] == "--loadgen":
        loadgen_entry(loadgen)
    else:
        os.chdir(ROOT)
        asyncio.run(main())


# -- profiles (py-spy) ---------------------------------------------------------------------
def find_py_spy(given: str | None) -> str | None:
    import shutil

    for candidate in (given, shutil.which("py-spy"), "/tmp/pyspy/bin/py-spy"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _frame_name(frame: str) -> str:
    """``pull (server/sync/pull.py:123)`` -> ``server/sync/pull.py:pull``."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{path}:{name}"


CATEGORIES = (  # (label, predicate on a frame name); the first frame from the leaf up that matches
    ("gzip (Litestar compression middleware)", lambda f: f.startswith(("gzip.py", "zlib"))
     or "compression" in f),
    ("event loop, native (uvloop sockets and callbacks; asyncpg parses rows here)", lambda f: f.startswith(("asyncio/runners.py", "uvloop"))),
    ("sqlite3 driver (aiosqlite thread: sqlite3 C code)", lambda f: f.startswith("aiosqlite/")),
    ("asyncpg driver", lambda f: f.startswith("asyncpg/")),
    ("Piccolo (query building; rows to dicts and Python values)", lambda f: f.startswith("piccolo/")),
    ("sync wire encoding (server/sync/wire.py)", lambda f: f.startswith("server/sync/wire.py")),
    ("pull loop (server/sync/pull.py)", lambda f: f.startswith("server/sync/pull.py")),
    ("other server code (auth, scope, session)", lambda f: f.startswith("server/")),
    ("msgspec JSON encoding of the page", lambda f: "msgspec" in f),
    ("Litestar (routing, middleware, response)", lambda f: f.startswith("litestar/")),
    ("uvicorn / httptools", lambda f: f.startswith(("uvicorn/", "httptools/"))),
)


def aggregate_stacks(lines: list[str], rate: int) -> dict:
    """Self and inclusive samples per function, and self samples per category, from collapsed stacks."""
    from collections import Counter

    self_, incl, cats = Counter(), Counter(), Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        # Python frames only ("func (file:line)"); --subprocesses adds a "process ..." root frame.
        frames = [_frame_name(f) for f in stack.split(";") if f.endswith(")") and " (" in f
                  and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += n
        self_[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
        label = "other"
        for f in reversed(frames):
            hit = next((lab for lab, pred in CATEGORIES if pred(f)), None)
            if hit:
                label = hit
                break
        cats[label] += n
    return {"samples": total, "rate": rate, "seconds": total / rate,
            "self": self_.most_common(25), "inclusive": incl.most_common(200),
            "categories": cats.most_common()}


@contextlib.contextmanager
def py_spy_record(py_spy: str, srv, rate: int = 200):
    """Sample the server (and its workers) with ``py-spy record --format raw`` while the block runs.

    Yields a dict filled on exit with the aggregated samples (see ``aggregate_stacks``)
    or ``{"error": ...}``. Only threads that are running are sampled (no ``--idle``).
    """
    import signal

    result: dict = {}
    with tempfile.TemporaryDirectory(prefix="fs-bench-pyspy-") as tmp:
        out = Path(tmp) / "stacks.txt"
        cmd = [py_spy, "record", "--pid", str(srv.proc.pid), "--format", "raw", "--rate", str(rate),
               "--output", str(out), "--nonblocking"]
        if len(srv.pids()) > 1:
            cmd.append("--subprocesses")
        spy = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)
        try:
            time.sleep(1.0)  # let py-spy attach
            yield result
        finally:
            spy.send_signal(signal.SIGINT)
            try:
                _, err = spy.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                spy.kill()
                _, err = spy.communicate()
            if out.exists():
                result.update(aggregate_stacks(out.read_text().splitlines(), rate))
            else:
                result["error"] = (err or b"").decode(errors="replace")[-500:]


def profile_lines(p: dict, title: str, what: str) -> list[str]:
    """Markdown for one ``py_spy_record`` result."""
    if "error" in p:
        return ["", f"py-spy failed ({title}): {p['error']}"]
    L = ["", f"## Where the time goes: {title}", "",
         (f"{what}; py-spy at {p['rate']} samples/s, running threads only (a thread waiting on I/O or "
          f"a lock is not sampled): {p['samples']:,} samples = {p['seconds']:.2f} s of busy thread time. "
          "Native code is attributed to the Python frame that called it."), "",
         "| layer (innermost frame that matches, from the leaf up) | share of busy samples |", "|---|---|"]
    L += [f"| {label} | {n / p['samples']:.0%} |" for label, n in p["categories"]]
    L += ["", "| function (self) | share |", "|---|---|"]
    L += [f"| `{f}` | {n / p['samples']:.1%} |" for f, n in p["self"][:20]]
    skip = ("click/", "uvicorn/main.py", "uvicorn/server.py", "uvicorn/_compat", "threading.py", "fieldsales:",
            "server/cli.py", "asyncio/runners.py", "asyncio/base_events.py", "asyncio/events.py")
    L += ["", "| function (inclusive; entry points omitted) | share |", "|---|---|"]
    L += [f"| `{f}` | {n / p['samples']:.1%} |" for f, n in p["inclusive"] if not f.startswith(skip)][:24]
    L += ["", "| this project's functions (inclusive) | share |", "|---|---|"]
    L += [f"| `{f}` | {n / p['samples']:.1%} |" for f, n in p["inclusive"] if f.startswith("server/")][:30]
    return L


# -- load generators in their own process ------------------------------------------------
def run_loadgen(script: str, spec: dict, timeout_s: float) -> dict:
    """Run ``script --loadgen SPEC OUT`` (the script calls ``loadgen_entry``) and return its result."""
    with tempfile.TemporaryDirectory(prefix="fs-bench-sync-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps(spec, default=str))
        subprocess.run([sys.executable, script, "--loadgen", str(spec_path), str(out_path)],
                       check=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
        return json.loads(out_path.read_text())


def run_uvloop(coro_fn: Callable[[], object]) -> tuple[object, str]:
    """``coro_fn()`` run on uvloop (on asyncio where uvloop is missing); (result, loop name)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(coro_fn()), "asyncio"
    return uvloop.run(coro_fn()), "uvloop"


def loadgen_entry(main: Callable[[dict], object]) -> None:
    """Body of ``script --loadgen SPEC OUT``: run ``await main(spec)`` on uvloop, write the result."""
    spec_path, out_path = sys.argv[2], sys.argv[3]
    spec = json.loads(Path(spec_path).read_text())
    result, loop = run_uvloop(lambda: main(spec))
    result["loop"] = loop
    Path(out_path).write_text(json.dumps(result, default=str))


def gzip_size(data: bytes, level: int = 4) -> int:
    return len(gzip.compress(data, compresslevel=level))
