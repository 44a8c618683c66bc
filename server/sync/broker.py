"""The live-update broker: Litestar's channels plugin on the database the deployment already runs.

SQLite (one server process): the in-memory backend. PostgreSQL: ``LISTEN/NOTIFY``
(Litestar's asyncpg backend, kept alive), so a write served by one server
process reaches the streams served by every other. Messages are those of
``server.sync.events``, one channel per organisation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable
from functools import partial
from typing import Self

import asyncpg
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.asyncpg import AsyncPgChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend

from server.config import Settings
from server.sync import events
from server.sync.events import RESYNC, Message, Poke, Reset, channel_of, encode, merge

log = logging.getLogger("fieldsales.sync.broker")

#: Messages waiting for the broker; beyond this they are dropped (and logged).
OUTBOX_LIMIT = 10_000
CONNECT_TIMEOUT_S = 5


class LiveChannels(ChannelsPlugin):
    """Litestar's channels plugin, with an outbox so that publishing never blocks or fails a write.

    Litestar's own ``publish()`` queue stops for good after one broker error;
    here one worker per process drains a bounded queue, merges the pokes
    waiting in it per org, and logs and drops what the broker refuses.
    """

    def __init__(self, backend, **kwargs) -> None:
        super().__init__(backend, arbitrary_channels_allowed=True, subscriber_max_backlog=1000,
                         subscriber_backlog_strategy="dropleft", **kwargs)
        self._outbox: asyncio.Queue[Message] | None = None
        self._worker: asyncio.Task | None = None
        self._dropped = 0

    def enqueue(self, message: Message) -> None:
        if self._outbox is None:
            return
        try:
            self._outbox.put_nowait(message)
        except asyncio.QueueFull:
            self._dropped += 1
            if self._dropped in (1, 10, 100) or self._dropped % 1000 == 0:
                log.warning("live-update outbox full: %d message(s) dropped", self._dropped)

    async def _drain(self) -> None:
        assert self._outbox is not None
        while True:
            batch = [await self._outbox.get()]
            while not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            pokes = [m for m in batch if isinstance(m, Poke)]
            resets = [m for m in batch if isinstance(m, Reset)]
            for message in [*resets, *merge(pokes)]:
                try:
                    await self.wait_published(encode(message), channel_of(message.org_id))
                except Exception:  # the write is committed; a lost hint is acceptable
                    log.warning("could not publish a live update for org %s", message.org_id,
                                exc_info=True)

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self._outbox = asyncio.Queue(OUTBOX_LIMIT)
        self._worker = asyncio.create_task(self._drain(), name="live-updates-outbox")
        events.attach(self)
        return self

    async def __aexit__(self, *exc) -> None:
        events.detach(self)
        if self._worker is not None:
            # Give queued messages a moment to leave, then stop.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._flushed(), timeout=2)
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = self._outbox = None
        await super().__aexit__(*exc)

    async def _flushed(self) -> None:
        while self._outbox is not None and not self._outbox.empty():
            await asyncio.sleep(0.01)


class PgNotifyBackend(AsyncPgChannelsBackend):
    """Litestar's asyncpg LISTEN/NOTIFY backend, kept alive.

    Two changes: NOTIFY goes through one kept connection (the stock backend
    opens a connection per message), and a lost LISTEN connection is
    re-opened with back-off, after which every channel gets a ``resync``
    reset (pokes may have been missed while it was down).
    """

    def __init__(self, dsn: str) -> None:
        # A short connect timeout: while the database is down the outbox drops hints quickly
        # instead of queueing behind asyncpg's 60 s default.
        super().__init__(make_connection=partial(asyncpg.connect, dsn=dsn, timeout=CONNECT_TIMEOUT_S))
        self._publisher: asyncpg.Connection | None = None
        self._publish_lock = asyncio.Lock()
        self._stopping = False
        self._reconnecting: asyncio.Task | None = None

    async def on_startup(self) -> None:
        self._stopping = False
        await super().on_startup()
        self._listener_conn.add_termination_listener(self._listener_lost)

    async def on_shutdown(self) -> None:
        self._stopping = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        if self._publisher is not None:
            with contextlib.suppress(Exception):
                await self._publisher.close()
            self._publisher = None
        with contextlib.suppress(Exception):
            await super().on_shutdown()

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        async with self._publish_lock:
            if self._publisher is None or self._publisher.is_closed():
                self._publisher = await self._connect()
            try:
                for channel in channels:
                    await self._publisher.execute("SELECT pg_notify($1, $2)", channel, data.decode())
            except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError):
                self._publisher = None
                raise

    def _listener_lost(self, _connection: asyncpg.Connection) -> None:
        if not self._stopping:
            log.warning("lost the PostgreSQL LISTEN connection; reconnecting")
            self._reconnecting = asyncio.get_running_loop().create_task(self._relisten())

    async def _relisten(self) -> None:
        delay = 0.2
        while not self._stopping:
            conn = None
            try:
                async with self._listener_lock:
                    conn = await self._connect()
                    for channel in self._subscribed_channels:
                        await conn.add_listener(channel, self._listener)
                    self._listener_conn = conn
                conn.add_termination_listener(self._listener_lost)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                if conn is not None:
                    conn.terminate()
                log.warning("PostgreSQL LISTEN reconnect failed; retrying in %.1f s", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            log.warning("PostgreSQL LISTEN connection restored; streams are told to pull")
            for channel in list(self._subscribed_channels):
                if self._queue is not None and channel.startswith("org:"):
                    reset = Reset(org_id=uuid.UUID(channel.removeprefix("org:")), reason=RESYNC)
                    self._queue.put_nowait((channel, encode(reset)))
            return


def channels_plugin(settings: Settings) -> LiveChannels:
    """The broker for ``settings.database_url``: memory on SQLite, LISTEN/NOTIFY on PostgreSQL."""
    if settings.is_sqlite:
        return LiveChannels(MemoryChannelsBackend())
    return LiveChannels(PgNotifyBackend(settings.database_url))
