"""OpenAPI entries of the audit routes, merged into the gateway's document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from gateway.api.openapi_parts import STAFF, errors, json_body
from gateway.audit.schemas import AuditEntryOut, AuditList, AuditProblemOut, AuditVerificationOut

AUDIT_MODELS: tuple[type[BaseModel], ...] = (
    AuditEntryOut,
    AuditList,
    AuditProblemOut,
    AuditVerificationOut,
)


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def audit_paths() -> dict[str, Any]:
    """The audit log's paths in the gateway's OpenAPI document."""
    bound = {"type": "string", "examples": ["2026-12-04", "2026-12-04T08:00:00Z"]}
    return {
        "/api/v1/audit": {
            "get": {
                "summary": "Export the audit log (supervisor, admin); the export is audited",
                "security": STAFF,
                "parameters": [
                    _query("from", "First UTC day, or a time (included)", bound),
                    _query("to", "Last UTC day (included), or a time (excluded)", bound),
                    _query(
                        "format",
                        "json (default) or csv",
                        {"type": "string", "enum": ["json", "csv"], "default": "json"},
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "Entries oldest first; tenant staff get their tenants' only",
                        "content": {
                            **json_body(AuditList)["content"],
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    **errors(401, 403, 422),
                },
            }
        },
        "/api/v1/audit/verify": {
            "get": {
                "summary": "Check the audit log's hash chain (admin)",
                "security": STAFF,
                "responses": {
                    "200": {
                        "description": "Intact, or every break, first one first",
                        **json_body(AuditVerificationOut),
                    },
                    **errors(401, 403),
                },
            }
        },
    }
