"""The platform's scheduled jobs do what their CLI twins do, window by window."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from server.common.time import utcnow
from server.jobs import catalog
from server.jobs.scheduler import run_window, window_at
from tests.builders import auth_headers, make_org, make_user
from tests.geo.test_territories import CELL7, account_ids, inside, make_account


async def test_a_territory_taking_effect_is_placed_by_the_job_of_its_window(client):
    org = await make_org()
    admin, rep = await make_user(org, "admin"), await make_user(org, "rep")
    h_admin, h_rep = await auth_headers(client, admin), await auth_headers(client, rep)
    shop = await make_account(client, h_admin, "Corner shop", *inside(CELL7))
    takes_effect = utcnow() + timedelta(seconds=2)
    r = await client.post("/api/v1/territories", headers=h_admin, json={
        "name": "Loop from tomorrow", "cells": [CELL7], "owner_ids": [str(rep.id)],
        "effective_from": takes_effect.isoformat()})
    assert r.status_code == 201, r.text
    assert await account_ids(client, h_rep) == set()  # not in force yet

    spec = catalog.load()["territories_place"]
    earlier = window_at(spec, takes_effect - timedelta(seconds=2 * spec.every_s))
    assert await run_window(spec, earlier, "test") == "done"  # a window before the date changes nothing
    assert await account_ids(client, h_rep) == set()
    await asyncio.sleep(max(0.0, (takes_effect - utcnow()).total_seconds()) + 0.2)
    assert await run_window(spec, window_at(spec, takes_effect), "test") == "done"
    assert await account_ids(client, h_rep) == {shop["id"]}
