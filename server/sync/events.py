"""Live-update messages: what write paths publish after commit (SYNC.md guarantee 10).

A write says which users hold the rows it changed with :func:`poke_after_commit`.
Nothing leaves the process until its unit of work commits (a rollback publishes
nothing); then the pokes are merged per organisation into one message
``{org_id, version: max, holders: union | null}`` on the channel ``org:<org_id>``
of Litestar's channels plugin. Streams (``server.sync.live``) filter them per
device. Resets (re-authenticate, or pull now) travel on the same channel.

The broker (``server.sync.broker``) is the database the deployment already
runs: in-process memory on SQLite, PostgreSQL ``LISTEN/NOTIFY`` on PostgreSQL.
This module does not import Litestar, so services can call it. Pokes are
hints: publishing never fails a request, and outside a running app (CLI,
tests without a server) it is a no-op.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Protocol

import msgspec

from server.db.tx import current_unit

#: PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; a poke whose holder
#: list would not fit is sent to the whole org instead (a hint may be too broad).
MAX_PAYLOAD_BYTES = 7900

#: Reset reasons after which a device must sign in again; the stream ends.
REAUTH_REASONS = frozenset({
    "device_revoked", "session_revoked", "logged_out", "user_disabled", "token_expired", "token_invalid",
})
#: Reset reason sent when pokes may have been missed (the broker connection was lost): pull now.
RESYNC = "resync"


# -- messages -----------------------------------------------------------------
class Poke(msgspec.Struct, tag="poke", kw_only=True, frozen=True):
    """Rows held by ``holders`` (``None``: everyone in the org) changed, up to ``version``."""

    org_id: uuid.UUID
    version: int
    holders: tuple[uuid.UUID, ...] | None


class Reset(msgspec.Struct, tag="reset", kw_only=True, frozen=True):
    """Devices matching every given target (none given: the whole org) must act on ``reason``."""

    org_id: uuid.UUID
    reason: str
    user_id: uuid.UUID | None = None
    device_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None


Message = Poke | Reset
_encode = msgspec.json.Encoder().encode
_decoder = msgspec.json.Decoder(Message)


def channel_of(org_id: uuid.UUID) -> str:
    return f"org:{org_id}"


def decode(payload: bytes) -> Message:
    return _decoder.decode(payload)


def encode(message: Message) -> bytes:
    """The wire form; a poke too big for a NOTIFY is widened to the whole org."""
    data = _encode(message)
    if len(data) > MAX_PAYLOAD_BYTES and isinstance(message, Poke):
        data = _encode(msgspec.structs.replace(message, holders=None))
    return data


def merge(pokes: Iterable[Poke]) -> list[Poke]:
    """One poke per org: the highest version, the union of holders (``None`` if any is ``None``)."""
    merged: dict[uuid.UUID, tuple[int, set[uuid.UUID] | None]] = {}
    for poke in pokes:
        version, holders = merged.get(poke.org_id, (poke.version, set()))
        if holders is not None and poke.holders is not None:
            holders |= set(poke.holders)
        else:
            holders = None
        merged[poke.org_id] = (max(version, poke.version), holders)
    return [Poke(org_id=org, version=v, holders=None if h is None else tuple(sorted(h)))
            for org, (v, h) in merged.items()]


# -- what write paths call ----------------------------------------------------
def poke_after_commit(org_id: uuid.UUID, holders: frozenset[uuid.UUID] | None, version: int) -> None:
    """Record that rows held by ``holders`` changed at ``version``; published once the unit commits.

    ``holders`` are the users whose own scope holds the rows (owner, assignee,
    owners of the territory...); ``None`` means everyone in the org (a
    contest, a template). Call inside ``unit_of_work()``.
    """
    unit = current_unit()
    pokes: list[Poke] | None = unit.pending.get("pokes")
    if pokes is None:
        pokes = unit.pending["pokes"] = []
        unit.after_commit(lambda: _send(merge(pokes)))
    pokes.append(Poke(org_id=org_id, version=version,
                      holders=None if holders is None else tuple(holders)))


def reset_after_commit(org_id: uuid.UUID, *, reason: str, user_id: uuid.UUID | None = None,
                       device_id: uuid.UUID | None = None, session_id: uuid.UUID | None = None) -> None:
    """:func:`publish_reset` once the current unit of work commits (what services call)."""
    message = Reset(org_id=org_id, reason=reason, user_id=user_id, device_id=device_id,
                    session_id=session_id)
    current_unit().after_commit(lambda: _send([message]))


async def publish_reset(org_id: uuid.UUID, *, user_id: uuid.UUID | None = None,
                        device_id: uuid.UUID | None = None, reason: str,
                        session_id: uuid.UUID | None = None) -> None:
    """Tell matching devices' streams to reset now (call after the commit that caused it).

    Reasons in :data:`REAUTH_REASONS` end the stream (the device signs in
    again); any other reason means "pull now" and the stream stays open.
    """
    _send([Reset(org_id=org_id, reason=reason, user_id=user_id, device_id=device_id,
                 session_id=session_id)])


def _send(messages: list[Message]) -> None:
    outbox = _outbox
    if outbox is not None:
        for message in messages:
            outbox.enqueue(message)


# -- where messages go ----------------------------------------------------------
class Outbox(Protocol):
    def enqueue(self, message: Message) -> None:
        """Hand ``message`` to the broker soon; never block, never raise."""


#: The running app's broker in this process (``server.sync.broker``), while its lifespan runs.
_outbox: Outbox | None = None


def attach(outbox: Outbox) -> None:
    global _outbox
    _outbox = outbox


def detach(outbox: Outbox) -> None:
    global _outbox
    if _outbox is outbox:
        _outbox = None
