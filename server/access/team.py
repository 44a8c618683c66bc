"""Reporting lines: "team" is everyone who reports to a manager, directly or not."""

from __future__ import annotations

import uuid
from collections.abc import Iterable


def reports_of(manager_id: uuid.UUID, links: Iterable[tuple[uuid.UUID, uuid.UUID | None]]) -> set[uuid.UUID]:
    """All users below ``manager_id`` given (user, manager) pairs; cycles are harmless."""
    children: dict[uuid.UUID, list[uuid.UUID]] = {}
    for user, manager in links:
        if manager is not None:
            children.setdefault(manager, []).append(user)
    seen: set[uuid.UUID] = set()
    stack = [manager_id]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen and child != manager_id:
                seen.add(child)
                stack.append(child)
    return seen


def managers_of(user_id: uuid.UUID, links: Iterable[tuple[uuid.UUID, uuid.UUID | None]]) -> list[uuid.UUID]:
    """The chain above ``user_id``, nearest first; stops at a cycle."""
    parent = dict(links)
    chain: list[uuid.UUID] = []
    current = parent.get(user_id)
    while current is not None and current not in chain and current != user_id:
        chain.append(current)
        current = parent.get(current)
    return chain
