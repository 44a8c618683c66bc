"""Delivery status of messages and calls: the one rule for how it may move (pure).

Provider callbacks arrive out of order and more than once, and may overtake
the sender recording that the provider accepted a message. A status only
moves forward: ``queued → sending → sent → delivered``; ``failed`` ends any
status but ``delivered`` (a delivered message cannot fail afterwards); an
inbound message is ``received`` and stays so.
"""

from __future__ import annotations

RANK = {"draft": 0, "queued": 1, "sending": 2, "sent": 3, "delivered": 4}
FINAL = ("delivered", "failed", "received")


def advances(current: str | None, new: str) -> bool:
    """Whether a message at ``current`` may take ``new``."""
    if current == new or current in FINAL:
        return False
    if new == "failed":
        return True
    return RANK.get(new, -1) > RANK.get(current or "", -1)
