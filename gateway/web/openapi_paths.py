"""OpenAPI entries of the console and review routes, merged into the gateway's document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from gateway.web.routes_review import GROUPS
from gateway.web.schemas import (
    AnswerOut,
    DoubtIn,
    OfferIn,
    ReviewFigures,
    ReviewList,
    TalkIn,
    TalkOut,
)

CONSOLE_MODELS: tuple[type[BaseModel], ...] = (
    OfferIn,
    AnswerOut,
    TalkIn,
    TalkOut,
    DoubtIn,
    ReviewList,
    ReviewFigures,
)
_STAFF: list[dict[str, list[str]]] = [{"sessionToken": []}, {"sessionCookie": []}]
_ALARM_ID = {"name": "alarm_id", "in": "path", "required": True, "schema": {"type": "string"}}
_REVIEW_QUERY = [
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
    {
        "name": "to",
        "in": "query",
        "schema": {"type": "string", "format": "date"},
        "description": "Inclusive last day",
    },
    {
        "name": "tz",
        "in": "query",
        "schema": {"type": "string"},
        "description": "IANA time zone of the days, default UTC",
    },
    {
        "name": "device",
        "in": "query",
        "schema": {"type": "string"},
        "description": "Part of the device id",
    },
    {"name": "type", "in": "query", "schema": {"$ref": "#/components/schemas/AlarmType"}},
    {"name": "outcome", "in": "query", "schema": {"$ref": "#/components/schemas/Outcome"}},
]


def _json(model: type[BaseModel]) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"content": {"application/json": {"schema": ref}}}


def _errors(*statuses: int) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
    return {str(s): {"description": "Refused; the message says why", **error} for s in statuses}


def _page(summary: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "security": [],
            "responses": {
                "200": {"description": "HTML page"},
                "303": {"description": "Log in first"},
            },
        }
    }


def _post(summary: str, body: type[BaseModel], answer: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": _STAFF,
            "parameters": [_ALARM_ID],
            "requestBody": {"required": True, **_json(body)},
            "responses": {**answer, **_errors(400, 401, 403, 404, 409, 415, 422)},
        }
    }


def console_paths() -> dict[str, Any]:
    review = {"security": _STAFF, "parameters": _REVIEW_QUERY}
    return {
        "/": {
            "get": {
                "summary": "Login page",
                "security": [],
                "responses": {"200": {"description": "HTML page"}},
            }
        },
        "/console": _page("Operator console (operator, supervisor)"),
        "/review": _page("Supervisor review (supervisor, admin)"),
        "/static/{name}": {
            "get": {
                "summary": "Console asset (HTML, CSS, JavaScript)",
                "security": [],
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "The file"}, **_errors(404)},
            }
        },
        "/api/v1/console/presence": {
            "get": {
                "summary": "Console presence (WebSocket): when a handler's last one closes, "
                "their alarms are released after a grace period",
                "security": _STAFF,
                "responses": {
                    "101": {"description": "Switching to WebSocket"},
                    **_errors(401, 403),
                },
            }
        },
        "/api/v1/alarms/{alarm_id}/audio/offer": _post(
            "WebRTC offer in, answer out: listen to the call (handler or supervisor)",
            OfferIn,
            {"200": {"description": "SDP answer", **_json(AnswerOut)}},
        ),
        "/api/v1/alarms/{alarm_id}/audio/mode": _post(
            "Listen silently (talk=false) or talk to the agent (talk=true)",
            TalkIn,
            {"200": {"description": "Mode now in force", **_json(TalkOut)}},
        ),
        "/api/v1/alarms/{alarm_id}/audio": {
            "delete": {
                "summary": "Hang up this operator's audio on the alarm",
                "security": _STAFF,
                "parameters": [_ALARM_ID],
                "responses": {"204": {"description": "Hung up"}, **_errors(401, 403)},
            }
        },
        "/api/v1/alarms/{alarm_id}/callback": {
            "post": {
                "summary": "Call the alarm's phone back with auto-answer (handling operator); "
                "the outcome shows in the timeline",
                "security": _STAFF,
                "parameters": [_ALARM_ID],
                "responses": {
                    "202": {"description": "Calling"},
                    **_errors(401, 403, 404, 409, 413),
                    "503": {"description": "The SIP voice channel is not running"},
                },
            }
        },
        "/api/v1/alarms/{alarm_id}/doubt-removed": _post(
            "Record the result of doubt removal (handling operator)",
            DoubtIn,
            {
                "200": {
                    "description": "Recorded",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/AlarmOut"}}
                    },
                }
            },
        ),
        "/api/v1/review/alarms": {
            "get": {
                "summary": "Alarm history, newest first, with review facts (supervisor, admin)",
                **review,
                "responses": {
                    "200": {"description": "Alarms", **_json(ReviewList)},
                    **_errors(401, 403, 422),
                },
            }
        },
        "/api/v1/review/figures": {
            "get": {
                "summary": "Service-level figures, in total and per group (supervisor, admin)",
                "security": _STAFF,
                "parameters": [
                    *_REVIEW_QUERY,
                    {
                        "name": "group",
                        "in": "query",
                        "schema": {"type": "string", "enum": list(GROUPS)},
                    },
                ],
                "responses": {
                    "200": {"description": "Figures", **_json(ReviewFigures)},
                    **_errors(401, 403, 422),
                },
            }
        },
        "/api/v1/review/alarms.csv": {
            "get": {
                "summary": "Alarm history as CSV, one row per alarm (supervisor, admin)",
                **review,
                "responses": {"200": {"description": "text/csv"}, **_errors(401, 403, 422)},
            }
        },
    }
