"""The push sender: takes queued pushes to FCM, never inside a transaction.

The same three steps as the email/text outbox (``server.comms.outbox``):

1. :func:`claim` takes due items under a lease and commits (``SKIP LOCKED``
   keeps concurrent senders apart on PostgreSQL; SQLite's write lock
   serialises them). Items whose device was revoked or got a new token since
   they were queued are not sent.
2. The batch is sent with at most ``outbox_concurrency`` requests in flight.
3. :func:`record` writes the results in one transaction, set-based: done,
   retry later (``backoff_s``, the provider's Retry-After if longer), or failed.
   A token FCM reports dead is cleared from its device (if the device still
   has it) and the other pushes waiting for it fail with it, so a dead token
   is never retried.

A sender that dies between 1 and 3 leaves its items leased; when the lease runs
out another sender sends them again. The API process runs one beside the
email/text sender (:func:`run_push_sender`), woken at once by local commits
that queue pushes and polling every few seconds for other processes' commits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, NamedTuple, Protocol

import msgspec

from server.common.background import in_background, run_rounds
from server.common.time import utcnow
from server.comms.outbox import backoff_s
from server.comms.providers import ProviderError
from server.db.direct import execute_many, fetch, in_lists, marks
from server.db.engine import is_sqlite
from server.db.tx import unit_of_work
from server.notify import service
from server.notify.fcm import DeadToken, FcmClient

log = logging.getLogger("fieldsales.push")

#: Items claimed per round: the most a crash can send twice.
BATCH = 100
#: Seconds between looks at the outbox when no local commit wakes the sender.
POLL_S = 3.0
GONE = "the device was revoked or has a new push token"


class Claimed(NamedTuple):
    id: uuid.UUID
    org_id: uuid.UUID
    device_id: uuid.UUID
    provider: str
    token: str
    title: str
    body: str
    data: Mapping[str, str]
    collapse_key: str | None
    attempts: int


class PushClient(Protocol):
    async def send(self, item: Any) -> str: ...

    async def aclose(self) -> None: ...


Result = str | ProviderError | None  # the provider's message name, a refusal, or None: not to be sent


def clients_for(settings: Any) -> dict[str, PushClient]:
    """Push providers this deployment can send through (none configured: pushes wait)."""
    project = getattr(settings, "fcm_project_id", None)
    token = getattr(settings, "fcm_access_token", None)
    if not (project and token):
        return {}
    return {"fcm": FcmClient(getattr(settings, "fcm_base_url", "https://fcm.googleapis.com"), project, token)}


# -- the three steps ------------------------------------------------------------------------
async def claim(worker: str, limit: int, lease_s: float, providers: Sequence[str]) -> tuple[list[Claimed], set[uuid.UUID]]:
    """Take up to ``limit`` due items for ``lease_s`` seconds (inside a unit of work; commit before sending).

    Returns the items and the ids of those whose device is still live with the same token.
    """
    if not providers:
        return [], set()
    now = utcnow()
    lock = "" if is_sqlite() else " FOR UPDATE SKIP LOCKED"
    rows = await fetch(
        "UPDATE push_outbox SET lease_until = ?, claimed_by = ?, attempts = attempts + 1 "
        "WHERE id IN (SELECT id FROM push_outbox WHERE state = 'pending' AND due_at <= ? "
        "AND (lease_until IS NULL OR lease_until < ?) "
        f"AND provider IN ({marks(len(providers))}) ORDER BY due_at LIMIT ?{lock}) "
        "RETURNING CAST(id AS TEXT), CAST(org_id AS TEXT), CAST(device_id AS TEXT), provider, token, title, "
        "body, data, collapse_key, attempts",
        [now + timedelta(seconds=lease_s), worker, now, now, *providers, limit])
    items = [Claimed(uuid.UUID(r[0]), uuid.UUID(r[1]), uuid.UUID(r[2]), r[3], r[4], r[5], r[6],
                     _data(r[7]), r[8], r[9]) for r in rows]
    live: dict[str, str] = {}
    for condition, args in in_lists("id", sorted({str(i.device_id) for i in items})):
        live |= dict(await fetch(f"SELECT CAST(id AS TEXT), push_token FROM devices WHERE {condition} "
                                 "AND revoked_at IS NULL AND push_token IS NOT NULL", args))
    return items, {i.id for i in items if live.get(str(i.device_id)) == i.token}


def _data(raw: Any) -> dict[str, str]:
    if isinstance(raw, (str, bytes)):
        raw = msgspec.json.decode(raw) if raw else {}
    return {str(k): str(v) for k, v in (raw or {}).items()}


async def send_all(clients: Mapping[str, PushClient], items: Sequence[Claimed], sendable: set[uuid.UUID],
                   concurrency: int) -> list[tuple[Claimed, Result]]:
    """Send each sendable item with at most ``concurrency`` in flight (outside any transaction)."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(item: Claimed) -> tuple[Claimed, Result]:
        if item.id not in sendable:
            return item, None
        async with gate:
            try:
                return item, await clients[item.provider].send(item)
            except ProviderError as e:
                log.warning("push %s to device %s failed (attempt %d): %s", item.id, item.device_id,
                            item.attempts, e.reason)
                return item, e
            except Exception as e:  # a bug in an adapter must not stop the sender: retried, then failed
                log.exception("push %s raised", item.id)
                return item, ProviderError(f"{type(e).__name__}: {e}", permanent=False)

    return list(await asyncio.gather(*(one(i) for i in items)))


async def record(results: Sequence[tuple[Claimed, Result]], max_attempts: int, worker: str) -> None:
    """Write what happened (inside a unit of work, after sending); a handful of statements per batch."""
    if not results:
        return
    now = utcnow()
    done: list[tuple] = []
    failed: list[tuple] = []
    retry: list[tuple] = []
    dead: dict[tuple[str, str], str] = {}
    for item, result in results:
        if isinstance(result, str):
            done.append((now, item.id))
        elif result is None:
            failed.append((GONE, now, item.id))
        elif isinstance(result, DeadToken):
            failed.append((result.reason, now, item.id))
            dead[(str(item.device_id), item.token)] = result.reason
        elif result.permanent or item.attempts >= max_attempts:
            reason = result.reason if result.permanent else f"gave up after {item.attempts} attempts: {result.reason}"
            failed.append((reason[:300], now, item.id))
        else:
            due = now + timedelta(seconds=backoff_s(item.attempts, result.retry_after_s))
            retry.append((due, result.reason[:300], item.id, worker))
    # ``state = 'pending'`` everywhere: a sender that outlived its lease must not undo another's result.
    await execute_many("UPDATE push_outbox SET state = 'done', last_error = NULL, finished_at = ?, "
                       "lease_until = NULL WHERE id = ? AND state = 'pending'", done)
    await execute_many("UPDATE push_outbox SET state = 'failed', last_error = ?, finished_at = ?, "
                       "lease_until = NULL WHERE id = ? AND state = 'pending'", failed)
    await execute_many("UPDATE push_outbox SET due_at = ?, lease_until = NULL, claimed_by = NULL, last_error = ? "
                       "WHERE id = ? AND state = 'pending' AND claimed_by = ?", retry)
    if dead:
        # Only if the phone has not registered a new token meanwhile; pushes already queued for the
        # dead token fail now instead of each finding out from FCM (those leased elsewhere find out).
        await execute_many("UPDATE devices SET push_token = NULL WHERE id = ? AND push_token = ?", list(dead))
        await execute_many("UPDATE push_outbox SET state = 'failed', last_error = ?, finished_at = ? "
                           "WHERE device_id = ? AND token = ? AND state = 'pending' "
                           "AND (lease_until IS NULL OR lease_until < ?)",
                           [(reason, now, device, token, now) for (device, token), reason in dead.items()])


# -- the loop ---------------------------------------------------------------------------------
class PushSender:
    def __init__(self, settings: Any, clients: dict[str, PushClient] | None = None, *,
                 batch: int = BATCH, poll_s: float = POLL_S) -> None:
        self.settings = settings
        self.clients = clients_for(settings) if clients is None else clients
        self.batch = batch
        self.poll_s = poll_s
        self.lease_s = float(getattr(settings, "outbox_lease_s", 120.0))
        self.concurrency = int(getattr(settings, "outbox_concurrency", 8))
        self.max_attempts = int(getattr(settings, "outbox_max_attempts", 10))
        self.worker = f"push:{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:64]

    async def run_once(self) -> int:
        """One claim-send-record round; returns the number of items handled."""
        async with unit_of_work():
            items, sendable = await claim(self.worker, self.batch, self.lease_s, sorted(self.clients))
        if not items:
            return 0
        results = await send_all(self.clients, items, sendable, self.concurrency)
        async with unit_of_work():
            await record(results, self.max_attempts, self.worker)
        return len(items)

    async def drain(self) -> int:
        """Send everything due now; returns how many items were handled."""
        total = 0
        while handled := await self.run_once():
            total += handled
        return total

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until ``stop`` is set; sleeps when nothing is due, wakes on local commits."""
        await run_rounds(self.run_once, service.WAKEUPS, stop, self.poll_s, "push")


async def drain(settings: Any, *, batch: int = BATCH) -> int:
    """Send every push due now through the configured providers (tests, CLI); returns items handled."""
    sender = PushSender(settings, batch=batch)
    try:
        return await sender.drain()
    finally:
        await sender.aclose()


@asynccontextmanager
async def run_push_sender(settings: Any) -> AsyncIterator[None]:
    """A push sender running beside the API for as long as the block lasts.

    Runs where the email/text sender runs (``outbox_in_process``); without FCM
    settings there is nothing to run and pushes wait in the outbox.
    """
    if not getattr(settings, "outbox_in_process", True):
        yield
        return
    sender = PushSender(settings)
    if not sender.clients:
        log.info("push: FCM not configured (FIELDSALES_FCM_PROJECT_ID, FIELDSALES_FCM_ACCESS_TOKEN); pushes wait")
        yield
        return
    try:
        async with in_background(sender.run, "push-sender"):
            yield
    finally:
        await sender.aclose()
