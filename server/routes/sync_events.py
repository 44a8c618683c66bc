"""``GET /api/v1/sync/events``: live-update hints for one phone, as server-sent events."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator

import msgspec
from litestar import Request, get
from litestar.channels import ChannelsPlugin
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromQuery
from litestar.response import ServerSentEvent, ServerSentEventMessage

from server.access.principal import Principal
from server.auth import tokens
from server.common.errors import Unauthorized
from server.routes.openapi import Problem
from server.sync.live import DeviceStream, check_device


async def _sse(stream: DeviceStream, retry_ms: int) -> AsyncIterator[ServerSentEventMessage]:
    retry: int | None = retry_ms
    async for event in stream.events():
        yield ServerSentEventMessage(event=event.event, id=event.id, retry=retry,
                                     data=msgspec.json.encode(event.data).decode())
        retry = None  # once, with the first event


@get("/api/v1/sync/events", operation_id="sync_events", tags=["sync"], media_type="text/event-stream",
     opt={"no_compression": True}, responses={
         403: ResponseSpec(data_container=Problem, media_type="application/problem+json", generate_examples=False,
                           description="`device_id` is not a live device registered to the caller "
                                       "(`device_not_owned`)"),
     })
async def sync_events(request: Request, principal: NamedDependency[Principal],
                      channels: NamedDependency[ChannelsPlugin],
                      device_id: FromQuery[uuid.UUID]) -> ServerSentEvent:
    """Live updates for one of the caller's phones (`text/event-stream`). Hints only: pull on each.

    Events (each with an `id`; JSON `data`):

    * `poke` `{"version": n}`: something in the device's scope changed up to version `n`; pull.
      One is sent at once on (re)connect. A poke at or below what the phone already pulled (its
      own push pokes it too) can be ignored. The `id` of every event is the last version poked.
    * `heartbeat` `{"server_time": ...}`: after 15 s without another event.
    * `reset` `{"reason": r}`: `device_revoked`, `session_revoked`, `logged_out`, `user_disabled`
      or `token_expired` end the stream (refresh the token or sign in, then reconnect);
      `resync` means live updates may have been missed: pull now.

    `device_id` must be a live device registered to the caller (403 `device_not_owned`).
    """
    await check_device(principal, device_id)
    settings = request.app.state.settings
    try:
        claims = tokens.decode_access(request.auth, settings.secret_key)
    except tokens.InvalidToken as exc:  # expired since the middleware checked it
        raise Unauthorized("invalid or expired access token", code=str(exc)) from None
    stream = DeviceStream(channels, request.app.state.auth, settings, principal, request.auth,
                          device_id, expires_at=claims.expires_at)
    await stream.prepare()
    # Spread reconnections after a restart over [retry, 2 * retry).
    retry_ms = settings.sse_retry_ms + random.randrange(settings.sse_retry_ms or 1)
    return ServerSentEvent(_sse(stream, retry_ms))
