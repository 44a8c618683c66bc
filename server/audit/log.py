"""One place that writes the audit log (inside the caller's transaction)."""

from __future__ import annotations

import uuid
from typing import Any

from server.access.scope import Scope
from server.audit.tables import AuditEvent
from server.common.time import utcnow
from server.db.ids import new_id


async def audit(scope: Scope, action: str, entity: str, entity_id: uuid.UUID | None,
                detail: dict[str, Any] | None = None) -> None:
    await AuditEvent.insert(AuditEvent(id=new_id(), org_id=scope.org_id, actor_id=scope.principal.user_id,
                                       action=action, entity=entity, entity_id=entity_id, at=utcnow(),
                                       detail=detail or {}))
