"""HTTP for contests: parse, call ``server.incentives.service``, return structs."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from server.access.scope import Scope
from server.db.tx import unit_of_work
from server.incentives import service
from server.incentives.schemas import (
    ContestIn,
    ContestOut,
    ContestPage,
    ContestPatch,
    Leaderboard,
    contest_out,
)
from server.routes.common import IfMatch, etag, if_match_version


async def _out(row: dict) -> ContestOut:
    return contest_out(row, await service.participant_ids(row["id"]) if row["status"] != "draft" else [])


class ContestController(Controller):
    path = "/api/v1/contests"
    tags = ("contests",)

    @get("/", operation_id="contests_list")
    async def list_contests(
        self,
        access: NamedDependency[Scope],
        status: FromQuery[str | None] = None,
        sort: FromQuery[str] = "-starts_at",
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> ContestPage:
        """Contests the caller sees (reps: those they take part in, never drafts); `sort` is
        `-starts_at`, `starts_at`, `-updated_at` or `name`."""
        async with unit_of_work():
            rows, nxt = await service.list_contests(access, status=status, sort=sort, limit=limit, cursor=cursor)
            items = [await _out(r) for r in rows]
        return ContestPage(items=items, next_cursor=nxt)

    @post("/", operation_id="contests_create")
    async def create_contest(self, data: JSONBody[ContestIn], access: NamedDependency[Scope]) -> Response[ContestOut]:
        """A draft. Managers and admins only (403 for reps). 422 codes: `invalid_window`, `unknown_metric`,
        `target_required`, `no_participants`, `unknown_user`, `unknown_team`, `unknown_region`,
        `participant_out_of_scope`, `invalid_prize`, `duplicate_metric`."""
        async with unit_of_work():
            row = await service.create_contest(access, data)
            out = await _out(row)
        return Response(out, status_code=201, headers=etag(row["version"]))

    @get("/{contest_id:uuid}", operation_id="contests_get")
    async def get_contest(self, contest_id: FromPath[uuid.UUID], access: NamedDependency[Scope]) -> Response[ContestOut]:
        async with unit_of_work():
            row = await service.get_contest(access, contest_id)
            out = await _out(row)
        return Response(out, headers=etag(row["version"]))

    @patch("/{contest_id:uuid}", operation_id="contests_update")
    async def update_contest(self, contest_id: FromPath[uuid.UUID], data: JSONBody[ContestPatch],
                             access: NamedDependency[Scope], if_match: IfMatch = None) -> Response[ContestOut]:
        """Drafts only (409 `not_draft`); `If-Match: "<version>"` refuses overwriting newer data (412)."""
        async with unit_of_work():
            row = await service.update_contest(access, contest_id, data, if_match_version(if_match))
            out = await _out(row)
        return Response(out, headers=etag(row["version"]))

    @post("/{contest_id:uuid}/publish", operation_id="contests_publish", status_code=200)
    async def publish_contest(self, contest_id: FromPath[uuid.UUID],
                              access: NamedDependency[Scope]) -> Response[ContestOut]:
        """Fix the participants, send the contest to their phones (poke + push). 409 unless a draft."""
        async with unit_of_work():
            row = await service.publish_contest(access, contest_id)
            out = await _out(row)
        return Response(out, headers=etag(row["version"]))

    @post("/{contest_id:uuid}/cancel", operation_id="contests_cancel", status_code=200)
    async def cancel_contest(self, contest_id: FromPath[uuid.UUID],
                             access: NamedDependency[Scope]) -> Response[ContestOut]:
        """Any status before finished; 409 `not_cancellable` after."""
        async with unit_of_work():
            row = await service.cancel_contest(access, contest_id)
            out = await _out(row)
        return Response(out, headers=etag(row["version"]))

    @get("/{contest_id:uuid}/leaderboard", operation_id="contests_leaderboard")
    async def leaderboard(self, contest_id: FromPath[uuid.UUID], access: NamedDependency[Scope]) -> Leaderboard:
        """Best first; a `top3` contest shows reps the top three and their own row. Once finished the
        rows are the frozen results, and managers see later activity as `adjustments`."""
        async with unit_of_work():
            return await service.leaderboard(access, contest_id)
