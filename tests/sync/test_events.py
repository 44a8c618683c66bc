"""Live updates (SYNC.md guarantee 10): pokes, heartbeats and resets over real HTTP.

The server runs under uvicorn on a free port: in this process for most tests
(so a test can commit a poke directly through ``unit_of_work()``), and as
``fieldsales serve`` subprocesses where two processes must share one
PostgreSQL database. Streams are read with httpx over a real socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest
import uvicorn
from hypothesis import given
from litestar.channels.backends.memory import MemoryChannelsBackend
from hypothesis import strategies as st

from server.app import create_app
from server.auth.tables import AuthSession
from server.cli import SHUTDOWN_GRACE_S
from server.common.time import utcnow
from server.config import load_settings
from server.db.clock import current_version, next_version
from server.db.tx import savepoint, unit_of_work
from server.sync import events
from server.sync.broker import LiveChannels
from server.sync.events import MAX_PAYLOAD_BYTES, Poke, Reset, merge, poke_after_commit
from tests.builders import Person, bearer, login, make_org, make_user

BIN = Path(sys.executable).parent / "fieldsales"
#: A poke must reach a connected phone within this long.
POKE_WITHIN_S = 1.0


# -- a server and an SSE reader -------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def serving(settings, app=None) -> AsyncIterator[str]:
    """The app under uvicorn in this process, on this event loop; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app or create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning", timeout_graceful_shutdown=2))
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 20
    while not server.started:
        assert not task.done() and time.monotonic() < deadline, "server did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@contextlib.contextmanager
def serving_process(db_url: str, tmp_path: Path, secret: str, name: str):
    """``fieldsales serve`` in a subprocess (its own process group); yields its base URL."""
    port = free_port()
    env = {**os.environ, "FIELDSALES_DATABASE_URL": db_url, "FIELDSALES_DATA_DIR": str(tmp_path / name),
           "FIELDSALES_SECRET_KEY": secret, "FIELDSALES_LOG_LEVEL": "WARNING"}
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([str(BIN), "serve", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / f"{name}.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, (tmp_path / f"{name}.log").read_text()
            time.sleep(0.1)
        yield base, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        log.close()


@dataclass
class Event:
    event: str
    id: str | None
    data: dict
    retry: int | None = None


class EventStream:
    """Parses ``text/event-stream`` lines into a queue (``None`` once the stream ends)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            async for line in self.response.aiter_lines():
                if line == "":
                    if "event" in fields or "data" in fields:
                        self.queue.put_nowait(Event(
                            fields.get("event", "message"), fields.get("id"),
                            msgspec.json.decode(fields.get("data", "null")),
                            int(fields["retry"]) if "retry" in fields else None))
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
        except httpx.HTTPError:
            pass
        finally:
            self.queue.put_nowait(None)

    async def next(self, timeout: float = POKE_WITHIN_S) -> Event | None:
        return await asyncio.wait_for(self.queue.get(), timeout)

    async def next_of(self, kind: str, timeout: float = POKE_WITHIN_S) -> Event:
        """The next event of ``kind``, skipping heartbeats."""
        while True:
            event = await self.next(timeout)
            assert event is not None, f"stream ended while waiting for {kind}"
            if event.event == kind:
                return event
            assert event.event == "heartbeat", event

    async def poked_up_to(self, version: int, timeout: float = POKE_WITHIN_S) -> None:
        """Pokes arrive until one at ``version`` (earlier writes may poke first)."""
        while (poke := await self.next_of("poke", timeout)).data["version"] < version:
            pass
        assert poke.data == {"version": version}


@contextlib.asynccontextmanager
async def stream(base: str, tokens: dict, device_id: uuid.UUID | str) -> AsyncIterator[EventStream]:
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(5, read=None)) as http, \
            http.stream("GET", "/api/v1/sync/events", params={"device_id": str(device_id)},
                        headers=bearer(tokens)) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        events_ = EventStream(response)
        try:
            yield events_
        finally:
            events_.task.cancel()


@dataclass
class Phone:
    person: Person
    device_id: uuid.UUID
    tokens: dict


async def phone(http: httpx.AsyncClient, person: Person) -> Phone:
    device_id = uuid.uuid4()
    return Phone(person, device_id, await login(http, person, device_id))


async def commit_poke(org_id: uuid.UUID, holders: set[uuid.UUID] | None) -> int:
    async with unit_of_work():
        version = await next_version(org_id)
        poke_after_commit(org_id, None if holders is None else frozenset(holders), version)
    return version


@contextlib.asynccontextmanager
async def live(base: str, p: Phone, org_id: uuid.UUID) -> AsyncIterator[EventStream]:
    """A phone's stream, checked to start like every (re)connection: a poke at the org's version."""
    async with stream(base, p.tokens, p.device_id) as events_:
        first = await events_.next()
        assert first.event == "poke" and first.data == {"version": await current_version(org_id)}
        assert first.id == str(first.data["version"]) and first.retry and first.retry >= 1000
        yield events_


@pytest.fixture
async def team(db):
    """An org with an admin, a manager with two reps, and a rep outside the manager's team."""
    org = await make_org()
    admin = await make_user(org, "admin")
    manager = await make_user(org, "manager", manager=admin)
    rep = await make_user(org, "rep", manager=manager)
    mate = await make_user(org, "rep", manager=manager)
    outsider = await make_user(org, "rep", manager=admin)
    return org, admin, manager, rep, mate, outsider


# -- pokes ------------------------------------------------------------------------
async def test_rep_is_poked_for_own_rows_only(settings, team):
    org, _admin, _manager, rep, mate, _outsider = team
    async with serving(settings) as base, httpx.AsyncClient(base_url=base) as http:
        async with live(base, await phone(http, rep), org) as phone_events:
            others = await commit_poke(org, {mate.id})
            started = time.monotonic()
            mine = await commit_poke(org, {rep.id, mate.id})
            poke = await phone_events.next_of("poke")
            # The first poke after connecting is the rep's: the mate-only change never came.
            assert poke.data == {"version": mine} and poke.id == str(mine) and mine > others
            assert time.monotonic() - started < POKE_WITHIN_S
            everyone = await commit_poke(org, None)  # e.g. a contest: everyone in the org pulls
            assert (await phone_events.next_of("poke")).data == {"version": everyone}


async def test_manager_is_poked_for_the_team_admin_for_the_org(settings, team):
    org, admin, manager, rep, _mate, outsider = team
    async with serving(settings) as base, httpx.AsyncClient(base_url=base) as http:
        m, a = await phone(http, manager), await phone(http, admin)
        async with live(base, m, org) as boss, live(base, a, org) as top:
            outside = await commit_poke(org, {outsider.id})
            assert (await top.next_of("poke")).data == {"version": outside}
            in_team = await commit_poke(org, {rep.id})
            assert (await boss.next_of("poke")).data == {"version": in_team}  # not `outside` first
            assert (await top.next_of("poke")).data == {"version": in_team}


async def test_rollback_publishes_nothing_and_a_unit_publishes_once(settings, team):
    org, _admin, _manager, rep, _mate, _outsider = team
    async with serving(settings) as base, httpx.AsyncClient(base_url=base) as http:
        async with live(base, await phone(http, rep), org) as phone_events:
            with pytest.raises(RuntimeError, match="fails"):
                async with unit_of_work():
                    poke_after_commit(org, frozenset({rep.id}), await next_version(org))
                    raise RuntimeError("the write fails after its poke was recorded")
            async with unit_of_work():  # several writes in one unit: one poke at the highest version
                poke_after_commit(org, frozenset({rep.id}), await next_version(org))
                async with unit_of_work():  # nested: joins the outer unit
                    last = await next_version(org)
                    poke_after_commit(org, frozenset({rep.id}), last)
            assert (await phone_events.next_of("poke")).data == {"version": last}
            with pytest.raises(asyncio.TimeoutError):
                await phone_events.next_of("poke", timeout=0.5)


async def test_a_real_write_pokes_the_holder(settings, team):
    """A manager edits a rep's account through the API: the rep's phone is poked at its version."""
    org, _admin, manager, rep, _mate, _outsider = team
    async with serving(settings) as base, httpx.AsyncClient(base_url=base) as http:
        p = await phone(http, rep)
        boss = bearer(await login(http, manager))
        r = await http.post("/api/v1/accounts", headers=boss, json={"name": "Acme", "owner_id": str(rep.id)})
        assert r.status_code == 201, r.text
        async with live(base, p, org) as phone_events:
            r = await http.patch(f"/api/v1/accounts/{r.json()['id']}", headers=boss, json={"name": "Acme Inc"})
            assert r.status_code == 200, r.text
            assert (await phone_events.next_of("poke")).data == {"version": r.json()["version"]}


async def test_heartbeat_carries_the_last_version(db, tmp_path, team):
    org, _admin, _manager, rep, _mate, _outsider = team
    settings = load_settings(database_url=db.url, secret_key="k" * 48, data_dir=str(tmp_path / "var"),
                             password_time_cost=1, sse_heartbeat_s=0.2)
    async with serving(settings) as base, httpx.AsyncClient(base_url=base) as http:
        async with live(base, await phone(http, rep), org) as phone_events:
            version = await commit_poke(org, {rep.id})
            assert (await phone_events.next_of("poke")).data == {"version": version}
            beat = await phone_events.next(timeout=1)
            assert beat.event == "heartbeat" and beat.id == str(version) and "server_time" in beat.data


# -- resets -------------------------------------------------------------------------
async def test_revoked_device_gets_a_reset_and_the_stream_ends(settings, team):
    org, _admin, manager, rep, _mate, _outsider = team
    async with serving(settings) as base, httpx.AsyncClient(base_url=base) as http:
        p = await phone(http, rep)
        boss = bearer(await login(http, manager))
        async with live(base, p, org) as phone_events:
            r = await http.post(f"/api/v1/devices/{p.device_id}/revoke", headers=boss)
            assert r.status_code == 200
            assert (await phone_events.next_of("reset")).data == {"reason": "device_revoked"}
            assert await phone_events.next() is None  # the server ended the stream
        # And it cannot come back: the device's tokens died with it.
        r = await http.get("/api/v1/sync/events", params={"device_id": str(p.device_id)},
                           headers=bearer(p.tokens))
        assert r.status_code == 401 and r.json()["code"] in ("session_revoked", "device_revoked")


async def test_logout_and_deactivation_end_only_their_streams(settings, team):
    org, admin, _manager, rep, mate, _outsider = team
    async with serving(settings) as base, httpx.AsyncClient(base_url=base) as http:
        p, other_phone, q = await phone(http, rep), await phone(http, rep), await phone(http, mate)
        top = bearer(await login(http, admin))
        async with live(base, p, org) as rep_events, live(base, other_phone, org) as rep_other, \
                live(base, q, org) as mate_events:
            assert (await http.post("/api/v1/auth/logout", headers=bearer(p.tokens))).status_code == 204
            assert (await rep_events.next_of("reset")).data == {"reason": "logged_out"}
            assert await rep_events.next() is None
            r = await http.patch(f"/api/v1/users/{mate.id}", json={"active": False}, headers=top)
            assert r.status_code == 200, r.text
            assert (await mate_events.next_of("reset")).data == {"reason": "user_disabled"}
            assert await mate_events.next() is None
            # The rep's other phone was neither logged out nor disabled: it is still poked.
            await rep_other.poked_up_to(await commit_poke(org, {rep.id}))


async def test_stream_rechecks_its_session_and_ends_with_its_token(db, tmp_path, team):
    """A revocation whose reset was lost is caught at the next re-check; the token's expiry ends it too."""
    org, _admin, _manager, rep, mate, _outsider = team
    settings = load_settings(database_url=db.url, secret_key="k" * 48, data_dir=str(tmp_path / "var"),
                             password_time_cost=1, sse_scope_refresh_s=0.3, access_token_ttl_s=3)
    async with serving(settings) as base, httpx.AsyncClient(base_url=base) as http:
        p, q = await phone(http, rep), await phone(http, mate)
        async with live(base, p, org) as revoked, live(base, q, org) as expiring:
            async with unit_of_work():  # revoked behind the API's back: no reset is published
                await AuthSession.update({AuthSession.revoked_at: utcnow()}).where(AuthSession.user_id == rep.id)
            assert (await revoked.next_of("reset", timeout=2)).data == {"reason": "session_revoked"}
            assert (await expiring.next_of("reset", timeout=5)).data == {"reason": "token_expired"}
            assert await expiring.next() is None


async def test_a_closed_stream_unsubscribes(settings, team):
    org, _admin, manager, rep, _mate, _outsider = team
    app = create_app(settings)
    broker = app.plugins.get(LiveChannels)

    def subscribers() -> int:  # Litestar keeps no public count
        return sum(len(subs) for subs in broker._channels.values())

    async with serving(settings, app) as base, httpx.AsyncClient(base_url=base) as http:
        p, m = await phone(http, rep), await phone(http, manager)
        async with live(base, p, org), live(base, m, org) as boss:
            assert subscribers() == 2
        deadline = time.monotonic() + 2
        while subscribers():  # the phones hung up
            assert time.monotonic() < deadline, subscribers()
            await asyncio.sleep(0.02)
        async with live(base, m, org) as boss:  # and the server ends one (a reset)
            async with unit_of_work():
                events.reset_after_commit(org, user_id=manager.id, reason="user_disabled")
            assert (await boss.next_of("reset")).data == {"reason": "user_disabled"}
            assert await boss.next() is None
            assert subscribers() == 0


# -- who may open a stream ------------------------------------------------------------
async def test_only_the_callers_own_live_device(settings, team):
    _org, _admin, _manager, rep, mate, _outsider = team
    async with serving(settings) as base, httpx.AsyncClient(base_url=base) as http:
        p, q = await phone(http, rep), await phone(http, mate)
        url = "/api/v1/sync/events"
        r = await http.get(url, params={"device_id": str(p.device_id)})
        assert r.status_code == 401 and r.json()["code"] == "token_missing"
        for device in (q.device_id, uuid.uuid4()):  # another user's phone, an unknown one
            r = await http.get(url, params={"device_id": str(device)}, headers=bearer(p.tokens))
            assert r.status_code == 403 and r.json()["code"] == "device_not_owned"
        # A token issued to one phone cannot open the stream of the user's other phone.
        other = await phone(http, rep)
        r = await http.get(url, params={"device_id": str(other.device_id)}, headers=bearer(p.tokens))
        assert r.status_code == 403 and r.json()["code"] == "device_not_owned"
        assert (await http.get(url, headers=bearer(p.tokens))).status_code == 422


# -- PostgreSQL: several server processes, one broker ----------------------------------
@pytest.mark.parametrize("engine_kind", ["postgres"])
async def test_write_on_one_process_reaches_a_stream_on_another(db, tmp_path, team):
    org, _admin, manager, rep, _mate, _outsider = team
    secret = "shared-secret-" + "x" * 40  # both processes accept the same tokens
    with serving_process(db.url, tmp_path, secret, "a") as (base_a, _), \
            serving_process(db.url, tmp_path, secret, "b") as (base_b, _):
        async with httpx.AsyncClient(base_url=base_a) as http_a, httpx.AsyncClient(base_url=base_b) as http_b:
            p = await phone(http_b, rep)
            boss = bearer(await login(http_a, manager))
            r = await http_a.post("/api/v1/accounts", headers=boss, json={"name": "Acme", "owner_id": str(rep.id)})
            assert r.status_code == 201, r.text
            async with live(base_b, p, org) as phone_events:
                started = time.monotonic()
                r = await http_a.patch(f"/api/v1/accounts/{r.json()['id']}", headers=boss, json={"name": "Acme 2"})
                assert r.status_code == 200, r.text
                assert (await phone_events.next_of("poke")).data == {"version": r.json()["version"]}
                assert time.monotonic() - started < POKE_WITHIN_S
                # A reset published by process A ends the stream on process B.
                r = await http_a.post(f"/api/v1/devices/{p.device_id}/revoke", headers=boss)
                assert r.status_code == 200
                assert (await phone_events.next_of("reset")).data == {"reason": "device_revoked"}
                assert await phone_events.next() is None


@pytest.mark.parametrize("engine_kind", ["postgres"])
async def test_lost_listen_connection_is_restored_and_streams_told_to_pull(settings, db, team):
    org, _admin, _manager, rep, _mate, _outsider = team
    async with serving(settings) as base, httpx.AsyncClient(base_url=base) as http:
        async with live(base, await phone(http, rep), org) as phone_events:
            admin = await asyncpg.connect(db.url)
            try:
                killed = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query LIKE 'LISTEN %'")
            finally:
                await admin.close()
            assert killed == 1
            assert (await phone_events.next_of("reset", timeout=5)).data == {"reason": "resync"}
            version = await commit_poke(org, {rep.id})
            assert (await phone_events.next_of("poke", timeout=2)).data == {"version": version}


async def test_server_with_an_open_stream_stops_promptly(db, tmp_path, team):
    """SIGTERM (a deploy): open streams are cut after the grace period; phones reconnect elsewhere."""
    org, _admin, _manager, rep, _mate, _outsider = team
    with serving_process(db.url, tmp_path, "s" * 48, "one") as (base, proc):
        async with httpx.AsyncClient(base_url=base) as http:
            async with live(base, await phone(http, rep), org) as phone_events:
                started = time.monotonic()
                os.killpg(proc.pid, signal.SIGTERM)
                assert await phone_events.next(timeout=SHUTDOWN_GRACE_S + 10) is None
                await asyncio.to_thread(proc.wait, 15)
                assert time.monotonic() - started < SHUTDOWN_GRACE_S + 3


# -- pure parts ---------------------------------------------------------------------------
ORGS = [uuid.UUID(int=1), uuid.UUID(int=2)]
USERS = [uuid.UUID(int=10 + i) for i in range(6)]
pokes_ = st.builds(lambda org, version, holders: Poke(org_id=org, version=version, holders=holders),
                   st.sampled_from(ORGS), st.integers(1, 1000),
                   st.none() | st.lists(st.sampled_from(USERS), max_size=4).map(lambda h: tuple(sorted(set(h)))))


@given(st.lists(pokes_, min_size=1, max_size=20))
def test_merge_keeps_one_poke_per_org_that_reaches_everyone_the_parts_did(pokes):
    merged = {p.org_id: p for p in merge(pokes)}
    assert set(merged) == {p.org_id for p in pokes}
    for org, poke in merged.items():
        parts = [p for p in pokes if p.org_id == org]
        assert poke.version == max(p.version for p in parts)
        if any(p.holders is None for p in parts):
            assert poke.holders is None
        else:
            assert set(poke.holders) == {h for p in parts for h in p.holders}
    assert merge(list(merged.values())) == list(merged.values())  # merging again changes nothing


def test_a_poke_too_big_for_a_notify_goes_to_the_whole_org():
    many = tuple(uuid.uuid4() for _ in range(500))
    data = events.encode(Poke(org_id=ORGS[0], version=7, holders=many))
    assert len(data) <= MAX_PAYLOAD_BYTES
    assert events.decode(data) == Poke(org_id=ORGS[0], version=7, holders=None)
    reset = Reset(org_id=ORGS[0], reason="device_revoked", device_id=USERS[0])
    assert events.decode(events.encode(reset)) == reset


class Recorder:
    def __init__(self) -> None:
        self.sent: list = []

    def enqueue(self, message) -> None:
        self.sent.append(message)


async def test_pokes_leave_only_after_commit(db):
    org = await make_org()
    recorder = Recorder()
    events.attach(recorder)
    try:
        with pytest.raises(RuntimeError, match="unit_of_work"):
            poke_after_commit(org, None, 1)
        async with unit_of_work():
            poke_after_commit(org, frozenset({USERS[0]}), 5)
            poke_after_commit(org, frozenset({USERS[1]}), 6)
            events.reset_after_commit(org, user_id=USERS[0], reason="user_disabled")
            assert recorder.sent == []
        assert recorder.sent == [Poke(org_id=org, version=6, holders=tuple(sorted(USERS[:2]))),
                                 Reset(org_id=org, reason="user_disabled", user_id=USERS[0])]
    finally:
        events.detach(recorder)
    async with unit_of_work():  # no broker in this process (CLI, jobs): nothing happens
        poke_after_commit(org, None, 7)


class FlakyBroker(MemoryChannelsBackend):
    """Refuses its first message, like a database restarting."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    async def publish(self, data: bytes, channels) -> None:
        if not self.refused:
            self.refused += 1
            raise ConnectionResetError("broker restarting")
        await super().publish(data, channels)


async def test_a_broker_error_loses_one_hint_not_the_publisher(db):
    org = await make_org()
    backend = FlakyBroker()
    async with LiveChannels(backend) as broker:
        subscriber = await broker.subscribe(events.channel_of(org))
        async with unit_of_work():
            poke_after_commit(org, None, 1)  # the commit succeeds; its poke is lost (logged)
        await asyncio.sleep(0.05)
        async with unit_of_work():
            poke_after_commit(org, None, 2)
        got = await asyncio.wait_for(anext(subscriber.iter_events()), 1)
        assert backend.refused == 1 and events.decode(got) == Poke(org_id=org, version=2, holders=None)
        await broker.unsubscribe(subscriber)


async def test_a_rolled_back_savepoint_takes_its_pokes_with_it(db):
    """A push rejects one mutation group (its savepoint is rolled back): its pokes are not published."""
    org = await make_org()
    recorder = Recorder()
    events.attach(recorder)
    try:
        async with unit_of_work():
            kept = await savepoint()
            poke_after_commit(org, frozenset({USERS[0]}), await next_version(org))
            await kept.release()
            undone = await savepoint()
            phantom = await next_version(org)
            poke_after_commit(org, frozenset({USERS[1]}), phantom)
            await undone.rollback_to()
        assert recorder.sent == [Poke(org_id=org, version=phantom - 1, holders=(USERS[0],))]
        assert await current_version(org) == phantom - 1  # the phantom version will be handed out again
    finally:
        events.detach(recorder)
