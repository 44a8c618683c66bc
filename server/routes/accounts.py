from __future__ import annotations

import uuid
from datetime import datetime

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from server.access.scope import Scope
from server.accounts import nearby, service
from server.accounts.schemas import (
    AccountIn,
    AccountOut,
    AccountPage,
    AccountPatch,
    AccountStatus,
    account_out,
)
from server.common.schemas import MergeIn
from server.db.tx import unit_of_work
from server.routes.common import IfMatch, etag, if_match_version
from server.sync.merge import merge


class AccountController(Controller):
    path = "/api/v1/accounts"
    tags = ["accounts"]

    @get("/", operation_id="accounts_list")
    async def list_accounts(
        self,
        access: NamedDependency[Scope],
        owner_id: FromQuery[uuid.UUID | None] = None,
        unowned: FromQuery[bool] = False,
        status: FromQuery[AccountStatus | None] = None,
        q: FromQuery[str | None] = None,
        updated_since: FromQuery[datetime | None] = None,
        h3_cell: FromQuery[str | None] = None,
        sort: FromQuery[str] = "name",
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> AccountPage:
        """Accounts in the caller's scope, a keyset page at a time (`q` searches names)."""
        f = service.AccountFilter(owner_id=owner_id, unowned=unowned, status=status, q=q,
                                  updated_since=updated_since, h3_cell=h3_cell)
        items, nxt = await service.list_accounts(access, f, sort=sort, limit=limit, cursor=cursor)
        return AccountPage(items=items, next_cursor=nxt)

    @post("/", operation_id="accounts_create")
    async def create_account(self, data: JSONBody[AccountIn], access: NamedDependency[Scope]) -> Response[AccountOut]:
        async with unit_of_work():
            row = await service.create_account(access, data)
        return Response(account_out(row), status_code=201, headers=etag(row["version"]))

    @get("/nearby", operation_id="accounts_nearby")
    async def nearby_accounts(
        self,
        access: NamedDependency[Scope],
        lat: FromQuery[float | None] = None,
        lng: FromQuery[float | None] = None,
        radius_m: FromQuery[float] = nearby.DEFAULT_RADIUS_M,
        not_visited_days: FromQuery[int | None] = None,
        status: FromQuery[AccountStatus | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> nearby.NearbyAccounts:
        """Accounts in scope within `radius_m` metres (default 2,000, at most 50,000) of `lat`/`lng`,
        nearest first, with `distance_m` and `last_visit_at`; `not_visited_days=30` keeps those
        without a visit in the last 30 days."""
        q = nearby.NearbyQuery(lat=lat, lng=lng, radius_m=radius_m, not_visited_days=not_visited_days,
                               status=status, limit=limit)
        return nearby.NearbyAccounts(items=await nearby.nearby_accounts(access, q))

    @get("/{account_id:uuid}", operation_id="accounts_get")
    async def get_account(self, account_id: FromPath[uuid.UUID], access: NamedDependency[Scope]) -> Response[AccountOut]:
        row = await service.get_account(access, account_id)
        return Response(account_out(row), headers=etag(row["version"]))

    @patch("/{account_id:uuid}", operation_id="accounts_update")
    async def update_account(self, account_id: FromPath[uuid.UUID], data: JSONBody[AccountPatch],
                             access: NamedDependency[Scope],
                             if_match: IfMatch = None) -> Response[AccountOut]:
        """Change some fields; send `If-Match: "<version>"` to refuse overwriting newer data (412)."""
        async with unit_of_work():
            row = await service.update_account(access, account_id, data, if_match_version(if_match))
        return Response(account_out(row), headers=etag(row["version"]))


    @post("/{account_id:uuid}/merge", operation_id="accounts_merge", status_code=200)
    async def merge_account(self, account_id: FromPath[uuid.UUID], data: JSONBody[MergeIn],
                             access: NamedDependency[Scope]) -> Response[AccountOut]:
        """Fold a duplicate (made offline by another rep) into this record, moving its history."""
        async with unit_of_work():
            row = await merge(access, "accounts", account_id, data.duplicate_id, access.accounts())
        return Response(account_out(row), headers=etag(row["version"]))

    @delete("/{account_id:uuid}", operation_id="accounts_delete", status_code=HTTP_204_NO_CONTENT)
    async def delete_account(self, account_id: FromPath[uuid.UUID], access: NamedDependency[Scope]) -> None:
        async with unit_of_work():
            await service.delete_account(access, account_id)
