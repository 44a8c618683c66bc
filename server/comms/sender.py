"""The outbox sender: takes queued messages and calls to the providers, never inside a transaction.

One round (:meth:`Sender.run_once`): claim a batch under a lease and commit;
send it with up to ``outbox_concurrency`` lanes, each with its own provider
connections (an SMTP connection is reused across a lane's messages); record
the results in one transaction. At most one batch per sender is in flight, so
a crash duplicates at most that many messages (``server.comms.outbox``).

The API process runs one in its lifespan (the embedded default), woken at once
when a commit queues something; ``fieldsales outbox run`` runs one on its own.
Any number may run against one database: claims keep them apart.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from server.common.background import in_background, run_rounds
from server.comms import outbox
from server.comms.providers import Outgoing, Provider, ProviderError
from server.config import Settings
from server.db.tx import unit_of_work

log = logging.getLogger("fieldsales.outbox")

#: Items claimed per round: the most a crash can send twice.
BATCH = 50
#: Seconds between looks at the outbox when nothing wakes the sender (other processes' commits).
POLL_S = 2.0

ProviderFactory = Callable[[], Provider]


def provider_factories(settings: Settings) -> dict[str, ProviderFactory]:
    """The channels this deployment can send on, from its settings (unconfigured channels wait)."""
    factories: dict[str, ProviderFactory] = {}
    if settings.smtp_url:
        from server.comms.providers.smtp import SmtpMailer

        url = settings.smtp_url
        factories["email"] = lambda: SmtpMailer(url)
    if settings.twilio_account_sid and settings.twilio_auth_token:
        from server.comms.providers.twilio import TwilioClient

        base, sid, token = settings.twilio_base_url, settings.twilio_account_sid, settings.twilio_auth_token
        factories["text"] = factories["call"] = lambda: TwilioClient(base, sid, token)
    return factories


class Sender:
    def __init__(self, settings: Settings, factories: dict[str, ProviderFactory] | None = None, *,
                 batch: int = BATCH, poll_s: float = POLL_S) -> None:
        self.settings = settings
        self.factories = provider_factories(settings) if factories is None else factories
        self.batch = batch
        self.poll_s = poll_s
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:64]

    async def run_once(self, lanes: list[dict[str, Provider]]) -> int:
        """One claim-send-record round; returns the number of items handled."""
        async with unit_of_work():
            claimed = await outbox.claim(self.worker, self.batch, self.settings.outbox_lease_s,
                                         sorted(self.factories))
        if not claimed:
            return 0
        async with unit_of_work():
            content = await outbox.load(claimed, self.settings.mail_from, self.settings.public_url)
        queue: asyncio.Queue = asyncio.Queue()
        for item in claimed:
            queue.put_nowait(item)
        results: list[tuple[outbox.Claimed, outbox.Result]] = []

        async def lane(providers: dict[str, Provider]) -> None:
            while not queue.empty():
                item = queue.get_nowait()
                results.append((item, await self._send(providers, item, content.get(item.id))))

        await asyncio.gather(*(lane(p) for p in lanes[:max(1, len(claimed))]))
        async with unit_of_work():
            await outbox.record(results, self.settings.outbox_max_attempts)
        return len(claimed)

    async def _send(self, providers: dict[str, Provider], item: outbox.Claimed,
                    message: Outgoing | None) -> outbox.Result:
        if message is None:
            return None
        try:
            return await providers[item.channel].send(message)
        except ProviderError as e:
            log.warning("sending %s %s failed (attempt %d): %s", item.channel, item.id, item.attempts, e.reason)
            return e
        except Exception as e:  # a bug in an adapter must not stop the outbox: retried, then failed
            log.exception("sending %s %s raised", item.channel, item.id)
            return ProviderError(f"{type(e).__name__}: {e}", permanent=False)

    async def drain(self) -> int:
        """Send everything due now, then return how many items were handled (CLI, tests, benchmarks)."""
        total = 0
        async with AsyncExitStack() as stack:
            lanes = await self._lanes(stack)
            while handled := await self.run_once(lanes):
                total += handled
        return total

    async def _lanes(self, stack: AsyncExitStack) -> list[dict[str, Provider]]:
        lanes = []
        for _ in range(max(1, self.settings.outbox_concurrency)):
            providers = {channel: make() for channel, make in self.factories.items()}
            for provider in providers.values():
                stack.push_async_callback(provider.aclose)
            lanes.append(providers)
        return lanes

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until ``stop`` is set; sleeps when there is nothing due, wakes on local commits."""
        if not self.factories:
            log.info("outbox: no provider configured (FIELDSALES_SMTP_URL, FIELDSALES_TWILIO_*); messages wait")
        async with AsyncExitStack() as stack:
            lanes = await self._lanes(stack)
            await run_rounds(lambda: self.run_once(lanes), outbox.WAKEUPS, stop, self.poll_s, "outbox")


@asynccontextmanager
async def run_sender(settings: Settings) -> AsyncIterator[None]:
    """A sender running beside the API for as long as the block lasts (off: ``outbox_in_process``)."""
    if not settings.outbox_in_process:
        yield
        return
    async with in_background(Sender(settings).run, "outbox-sender"):
        yield
