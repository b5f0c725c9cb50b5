"""The audit API's JSON shapes (documented in the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from gateway.audit.chain import Fault
from gateway.audit.verify import Verification


class AuditEntryOut(BaseModel):
    """One entry; ``hash``: SHA-256 of the canonical JSON of all fields but ``id`` and ``hash``."""

    id: int
    at: str = Field(description="ISO-8601 UTC to the microsecond, as hashed")
    actor: str = Field(description="staff user name, device:<id>, cli:<os user> or system")
    source: str | None = Field(description="client address; 'local' for the command line")
    action: str = Field(description="dotted action name, e.g. listen.start")
    target: str | None
    tenant: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditList(BaseModel):
    entries: list[AuditEntryOut]


class AuditProblemOut(BaseModel):
    entry_id: int
    fault: Fault
    reason: str


class AuditVerificationOut(BaseModel):
    intact: bool
    entries: int
    last_hash: str = Field(description="note it: a log later cut short no longer ends with it")
    problems: list[AuditProblemOut] = Field(description="first break first")
    summary: str

    @classmethod
    def of(cls, result: Verification) -> AuditVerificationOut:
        return cls(
            intact=result.intact,
            entries=result.entries,
            last_hash=result.last_hash,
            problems=[
                AuditProblemOut(entry_id=p.entry_id, fault=p.fault, reason=p.reason)
                for p in result.problems
            ],
            summary=result.summary(),
        )
