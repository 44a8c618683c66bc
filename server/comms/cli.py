"""``fieldsales outbox run|status``: the outbox sender as its own process, and a look at its queue.

Registered by ``server.cli`` (``main.add_command(outbox)``). Run the sender
on its own when several API processes serve one database and
``FIELDSALES_OUTBOX_IN_PROCESS=0``; any number of senders may run at once.
"""

from __future__ import annotations

import asyncio
import signal

import click

from server.cli import run_db


@click.group()
def outbox() -> None:
    """Messages and calls owed to providers."""


@outbox.command("run")
@click.option("--once", is_flag=True, help="send what is due now, then exit")
@run_db
async def outbox_run(settings, once: bool) -> None:
    """Send queued emails, texts and calls until stopped (SIGTERM or Ctrl-C finish the round in flight)."""
    from server.comms.sender import Sender

    sender = Sender(settings)
    if once:
        click.echo(f"{await sender.drain()} item(s) handled")
        return
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    click.echo(f"outbox sender {sender.worker} running; channels: {', '.join(sorted(sender.factories)) or 'none'}")
    await sender.run(stop)


@outbox.command("status")
@run_db
async def outbox_status(settings) -> None:
    """Items per channel and state, with the oldest due item still pending."""
    from server.db.direct import fetch
    from server.db.tx import unit_of_work

    async with unit_of_work():
        rows = await fetch("SELECT channel, state, count(*), min(due_at) FROM comms_outbox "
                           "GROUP BY channel, state ORDER BY channel, state")
    if not rows:
        click.echo("the outbox is empty")
    for channel, state, count, oldest in rows:
        click.echo(f"{channel:6} {state:8} {count:8}" + (f"  oldest due {oldest}" if state == "pending" else ""))
