"""Scheduled contest work: the lifecycle tick and leaderboard recomputes (``server.jobs.registry``)."""

from __future__ import annotations

from server.jobs.registry import Window, job


@job("contests_tick", every_s=60,
     description="move contests along: scheduled -> running -> closing -> finished (results frozen, winners told)")
async def contests_tick(window: Window) -> str:
    from server.incentives.lifecycle import tick

    counts = await tick(window.end if not window.manual else None)
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no contest due"


@job("leaderboards", every_s=30,
     description="recompute running and closing contests' leaderboards; record late activity of finished ones")
async def leaderboards(window: Window) -> str:
    from server.incentives.leaderboard import recompute_live
    from server.incentives.lifecycle import record_adjustments_for

    written = await recompute_live()
    adjusted = await record_adjustments_for()
    return f"{written} leaderboard entr(ies) written, {adjusted} adjustment(s) recorded"
