"""The outbox: 1,000 queued emails delivered to a local SMTP server, and a sender killed midway.

    .venv/bin/python bench/outbox.py [--engines sqlite,postgres] [--emails 1000]
        [--concurrency 1,4,8] [--pg-url postgresql://postgres@127.0.0.1:5432]

Target (issue 5): 1,000 queued emails delivered to the local SMTP server in
under 10 s; a sender killed and restarted midway delivers every message and at
most the in-flight ones twice, with the same Message-ID.

For each engine, a fresh migrated database; an org with one rep; ``--emails``
queued emails pushed in batches of 100 (the phone's path, outbox rows written
in the same transactions); a real SMTP server (aiosmtpd) on 127.0.0.1.

* ``drain``: an in-process sender (``Sender.drain``) per concurrency level, from
  "everything queued" to "every activity recorded as sent" (the delivery *and*
  the status writes that sync down). The queue is re-armed between levels.
* ``kill``: ``fieldsales outbox run`` as a subprocess, SIGKILLed once a quarter
  of the messages have arrived, then a second one started (lease 1 s); time to
  the last message recorded, duplicates, and whether each duplicate was in
  flight at the kill.

Progress goes to stderr, the report to stdout. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec
from aiosmtpd.controller import Controller

from bench._common import DEFAULT_PG_URL, bound_engine, exit_on_sigterm, free_port, machine_note
from bench._sync import database, log
from server.access.principal import Principal
from server.access.scope import Scope
from server.common.time import utcnow
from server.comms.bulk import create_activities
from server.comms.schemas import ActivityIn
from server.comms.sender import Sender
from server.config import load_settings
from server.db.direct import execute, fetch
from server.db.ids import new_id
from server.db.tx import unit_of_work
from server.orgs.service import create_org
from server.users.service import create_user

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 10.0


class Sink:
    """An SMTP server that keeps the Message-ID of everything it accepts."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, ready_timeout=10)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        for line in envelope.content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                with self.lock:
                    self.ids.append(line.split(b":", 1)[1].strip().decode())
                break
        return "250 OK"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def count(self) -> int:
        with self.lock:
            return len(self.ids)


async def seed(n: int):
    async with unit_of_work():
        org = await create_org(f"Outbox bench {new_id().hex[:6]}")
        rep = await create_user(org, email=f"rep-{new_id().hex[:6]}@bench.example", password="bench-password-1",
                                full_name="Bench Rep", role="rep", password_time_cost=1)
    scope = await Scope.build(Principal(user_id=rep, org_id=org, role="rep", session_id=new_id()))
    now = utcnow().isoformat()
    for start in range(0, n, 100):
        items = [msgspec.convert({"id": str(new_id()), "type": "email", "direction": "out", "status": "queued",
                                  "counterpart": f"buyer{i}@shop.example", "subject": f"Quote {i}",
                                  "body": "Hello,\n\nhere is the quote we discussed.\n" * 10,
                                  "occurred_at": now}, ActivityIn) for i in range(start, min(n, start + 100))]
        async with unit_of_work():
            await create_activities(scope, items)


async def rearm() -> None:
    """Everything back to queued (for the next concurrency level)."""
    async with unit_of_work():
        await execute("UPDATE comms_outbox SET state = 'pending', attempts = 0, lease_until = NULL, "
                      "claimed_by = NULL, finished_at = NULL, due_at = ?", [utcnow()])
        await execute("UPDATE activities SET status = 'queued' WHERE type = 'email'")


async def sent_count() -> int:
    async with unit_of_work():
        return (await fetch("SELECT count(*) FROM activities WHERE type = 'email' AND status = 'sent'"))[0][0]


async def drain_run(url: str, sink: Sink, n: int, concurrency: int) -> dict:
    settings = load_settings(database_url=url, secret_key="b" * 48, smtp_url=sink.url,
                             outbox_concurrency=concurrency, data_dir=str(ROOT / "var" / "bench"))
    before = sink.count()
    t0 = time.perf_counter()
    handled = await Sender(settings).drain()
    elapsed = time.perf_counter() - t0
    delivered = sink.count() - before
    ok = handled == n and delivered == n and await sent_count() == n
    return {"concurrency": concurrency, "s": elapsed, "per_s": n / elapsed, "ok": ok}


def sender_process(url: str, smtp_url: str) -> subprocess.Popen:
    env = {**os.environ, "FIELDSALES_DATABASE_URL": url, "FIELDSALES_SMTP_URL": smtp_url,
           "FIELDSALES_OUTBOX_LEASE": "1", "FIELDSALES_SECRET_KEY": "b" * 48,
           "FIELDSALES_DATA_DIR": str(ROOT / "var" / "bench")}
    return subprocess.Popen([sys.executable, "-m", "server", "outbox", "run"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def kill_run(url: str, sink: Sink, n: int) -> dict:
    await rearm()
    with sink.lock:
        sink.ids.clear()
    t0 = time.perf_counter()
    first = sender_process(url, sink.url)
    while sink.count() < n // 4:
        await asyncio.sleep(0.002)
    first.send_signal(signal.SIGKILL)
    first.wait()
    async with unit_of_work():
        in_flight = {r[0] for r in await fetch(
            "SELECT message_key FROM comms_outbox WHERE state = 'pending' AND claimed_by IS NOT NULL")}
        keys = {r[0] for r in await fetch("SELECT message_key FROM comms_outbox")}
    at_kill = sink.count()
    second = sender_process(url, sink.url)
    try:
        while await sent_count() < n:
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - t0
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    counts = Counter(sink.ids)
    dupes = {k for k, c in counts.items() if c > 1}
    return {"s": elapsed, "at_kill": at_kill, "in_flight": len(in_flight), "duplicates": len(dupes),
            "dupes_were_in_flight": dupes <= in_flight, "all_arrived": set(counts) == keys,
            "max_copies": max(counts.values())}


async def run_engine(engine: str, args) -> list[str]:
    lines = []
    async with database(engine, args.pg_url, "fs_bench_outbox") as url, bound_engine(url):
        log(f"{engine}: seeding {args.emails} queued emails")
        await seed(args.emails)
        sink = Sink()
        sink.controller.start()
        try:
            for i, c in enumerate(int(x) for x in args.concurrency.split(",")):
                if i:
                    await rearm()
                r = await drain_run(url, sink, args.emails, c)
                verdict = "met" if r["ok"] and r["s"] < TARGET_S else "MISSED"
                lines.append(f"| {engine} | drain, {c} lane(s) | {r['s']:.2f} s | {r['per_s']:,.0f}/s | "
                             f"{'all sent' if r['ok'] else 'INCOMPLETE'} | {verdict} |")
                log(lines[-1])
            k = await kill_run(url, sink, args.emails)
            verdict = "met" if k["all_arrived"] and k["dupes_were_in_flight"] and k["max_copies"] <= 2 else "MISSED"
            lines.append(f"| {engine} | kill at {k['at_kill']} received, restart | {k['s']:.2f} s | "
                         f"{args.emails / k['s']:,.0f}/s | {k['in_flight']} in flight, {k['duplicates']} sent twice, "
                         f"all arrived: {k['all_arrived']} | {verdict} |")
            log(lines[-1])
        finally:
            sink.controller.stop()
    return lines


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--concurrency", default="1,4,8")
    parser.add_argument("--max-seconds", type=float, default=600)
    args = parser.parse_args()
    exit_on_sigterm(args.max_seconds)
    lines = ["| engine | run | time | rate | result | target < 10 s |", "|---|---|---|---|---|---|"]
    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
        lines += await run_engine(engine, args)
    print(f"# Outbox: {args.emails} emails to a local SMTP server\n\n{machine_note()}\n")
    print("\n".join(lines))


if __name__ == "__main__":
    os.chdir(ROOT)
    asyncio.run(main())
