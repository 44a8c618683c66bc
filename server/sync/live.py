"""One phone's live-update stream: which pokes reach it, heartbeats, and when it ends.

A stream subscribes to its org's channel, then reads the org's current version
and sends it as a first poke, so a phone that reconnects checks in and nothing
published in between is lost. Afterwards it forwards pokes whose holders meet
the caller's scope (admins: all; managers: their team; reps: themselves; a
poke without holders: everyone), merging a burst into one poke at the highest
version and skipping versions the phone was already poked at (its pull after
that poke covered them: versions are commit-ordered). It sends a heartbeat
when nothing else was sent for ``sse_heartbeat_s`` and re-checks its session
and rebuilds its scope every ``sse_scope_refresh_s``; a reset for its device,
session or user, a failed re-check or the expiry of the access token that
opened it ends it with a ``reset`` event; a "pull now" reset (``resync``)
leaves it open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import anyio
import msgspec

from server.access.principal import Principal
from server.access.scope import Scope
from server.auth.tables import Device
from server.common.errors import Forbidden, Unauthorized
from server.common.time import utcnow
from server.db.clock import current_version
from server.sync.events import REAUTH_REASONS, Poke, Reset, channel_of, decode

if TYPE_CHECKING:
    from litestar.channels import ChannelsPlugin

    from server.auth.service import AuthService
    from server.config import Settings

log = logging.getLogger("fieldsales.sync.live")


class LiveEvent(msgspec.Struct, frozen=True):
    """One server-sent event: ``poke``, ``heartbeat`` or ``reset``."""

    event: str
    id: int
    data: dict


async def check_device(principal: Principal, device_id: uuid.UUID) -> None:
    """The device must be registered to the caller, live, and the one the token was issued to (if any)."""
    row = await Device.select(Device.user_id, Device.org_id, Device.revoked_at).where(
        Device.id == device_id
    ).first()
    if (row is None or row["org_id"] != principal.org_id or row["user_id"] != principal.user_id
            or row["revoked_at"] is not None
            or principal.device_id not in (None, device_id)):
        raise Forbidden("this device is not registered to you, or it was revoked", code="device_not_owned")


class DeviceStream:
    """The events of one phone's connection; :meth:`events` subscribes, yields, and unsubscribes."""

    def __init__(self, channels: ChannelsPlugin, auth: AuthService, settings: Settings,
                 principal: Principal, token: str, device_id: uuid.UUID, expires_at: float) -> None:
        self.channels = channels
        self.auth = auth
        self.settings = settings
        self.principal = principal
        self.token = token
        self.device_id = device_id
        #: When the access token that opened the stream expires (epoch seconds).
        self.expires_at = expires_at
        self.members: frozenset[uuid.UUID] | None = frozenset({principal.user_id})
        self.sent_version = 0
        self._poke_version = 0
        self._reset: Reset | None = None
        self._wake = asyncio.Event()

    # -- what arrives from the broker (in the subscriber's task) -------------
    def take(self, payload: bytes) -> None:
        try:
            message = decode(payload)
        except msgspec.DecodeError:
            log.warning("ignoring a malformed live-update message")
            return
        if isinstance(message, Poke):
            if message.version > max(self._poke_version, self.sent_version) and self.holds(message):
                self._poke_version = message.version
                self._wake.set()
        elif self.targets(message):
            # A reason that ends the stream wins over a "pull now" one.
            if self._reset is None or message.reason in REAUTH_REASONS:
                self._reset = message
            self._wake.set()

    def holds(self, poke: Poke) -> bool:
        if poke.holders is None or self.members is None:
            return True
        return not self.members.isdisjoint(poke.holders)

    def targets(self, reset: Reset) -> bool:
        p = self.principal
        return ((reset.user_id is None or reset.user_id == p.user_id)
                and (reset.device_id is None or reset.device_id == self.device_id)
                and (reset.session_id is None or reset.session_id == p.session_id))

    # -- the stream ----------------------------------------------------------
    async def events(self) -> AsyncIterator[LiveEvent]:
        channel = channel_of(self.principal.org_id)
        subscriber = await self.channels.subscribe(channel)
        pump = asyncio.create_task(self._pump(subscriber))
        try:
            async for event in self._run():
                yield event
        finally:
            # Runs on disconnect too, inside a cancelled scope: shield the clean-up.
            with anyio.CancelScope(shield=True):
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump
                await self.channels.unsubscribe(subscriber, channel)

    async def _pump(self, subscriber) -> None:
        async for payload in subscriber.iter_events():
            self.take(payload)

    async def prepare(self) -> None:
        """Build the scope before the response starts, so a database failure answers 503, not a broken stream."""
        await self._refresh_scope()

    async def _run(self) -> AsyncIterator[LiveEvent]:
        # Read after subscribing: a commit in between is covered by this poke or the next.
        yield self._poke(await current_version(self.principal.org_id))
        last_sent = time.monotonic()
        refresh_due = last_sent + self.settings.sse_scope_refresh_s
        expires_due = last_sent + max(0.0, self.expires_at - time.time())
        while True:
            heartbeat_due = last_sent + self.settings.sse_heartbeat_s
            timeout = min(heartbeat_due, refresh_due, expires_due) - time.monotonic()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, timeout))
            self._wake.clear()
            now = time.monotonic()
            if now >= expires_due:
                yield self._reset_event("token_expired")
                return
            if self._reset is not None:
                reset, self._reset = self._reset, None
                yield self._reset_event(reset.reason)
                if reset.reason in REAUTH_REASONS:
                    return
                # "Pull now" covers every poke waiting here; the scope may have changed too.
                self.sent_version = max(self.sent_version, self._poke_version)
                refresh_due, last_sent = now, now
            elif self._poke_version > self.sent_version:
                yield self._poke(self._poke_version)
                last_sent = now
            elif now >= heartbeat_due:
                yield LiveEvent("heartbeat", self.sent_version, {"server_time": utcnow().isoformat()})
                last_sent = now
            if now >= refresh_due:
                ended = await self._refresh_session()
                if ended:
                    yield self._reset_event(ended)
                    return
                refresh_due = time.monotonic() + self.settings.sse_scope_refresh_s

    def _poke(self, version: int) -> LiveEvent:
        self.sent_version = max(self.sent_version, version)
        return LiveEvent("poke", version, {"version": version})

    def _reset_event(self, reason: str) -> LiveEvent:
        return LiveEvent("reset", self.sent_version, {"reason": reason})

    async def _refresh_scope(self) -> None:
        self.members = (await Scope.build(self.principal)).members

    async def _refresh_session(self) -> str | None:
        """Re-run the per-request session check; the reason to end the stream, if any."""
        try:
            self.principal = await self.auth.authenticate(self.token)
            await self._refresh_scope()
        except Unauthorized as exc:
            return exc.code
        except Exception:  # a database hiccup: keep streaming, try again next time
            log.warning("could not refresh a live stream's session", exc_info=True)
        return None
