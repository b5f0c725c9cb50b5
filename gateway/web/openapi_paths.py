"""OpenAPI entries of the console and review routes, merged into the gateway's document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from gateway.api.openapi_parts import STAFF, errors, json_body, path_param
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
_ALARM_ID = path_param("alarm_id")
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


def _page(summary: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "security": [],
            "responses": {
                "200": {"description": "HTML page"},
                "303": {"description": "Log in first"},
                **errors(403),
            },
        }
    }


def _post(summary: str, body: type[BaseModel], answer: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": STAFF,
            "parameters": [_ALARM_ID],
            "requestBody": {"required": True, **json_body(body)},
            "responses": {**answer, **errors(400, 401, 403, 404, 409, 415, 422)},
        }
    }


def console_paths() -> dict[str, Any]:
    review = {"security": STAFF, "parameters": _REVIEW_QUERY}
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
        "/admin": _page("Back office pages (admin)"),
        "/static/{name}": {
            "get": {
                "summary": "Console asset (HTML, CSS, JavaScript)",
                "security": [],
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "The file"}, **errors(404)},
            }
        },
        "/api/v1/console/presence": {
            "get": {
                "summary": "Console presence (WebSocket): when a handler's last one closes, "
                "their alarms are released after a grace period",
                "security": STAFF,
                "responses": {
                    "101": {"description": "Switching to WebSocket"},
                    **errors(401, 403),
                },
            }
        },
        "/api/v1/alarms/{alarm_id}/audio/offer": _post(
            "WebRTC offer in, answer out: listen to the call (handler or supervisor)",
            OfferIn,
            {"200": {"description": "SDP answer", **json_body(AnswerOut)}},
        ),
        "/api/v1/alarms/{alarm_id}/audio/mode": _post(
            "Listen silently (talk=false) or talk to the agent (talk=true)",
            TalkIn,
            {"200": {"description": "Mode now in force", **json_body(TalkOut)}},
        ),
        "/api/v1/alarms/{alarm_id}/audio": {
            "delete": {
                "summary": "Hang up this operator's audio on the alarm",
                "security": STAFF,
                "parameters": [_ALARM_ID],
                "responses": {"204": {"description": "Hung up"}, **errors(401, 403)},
            }
        },
        "/api/v1/alarms/{alarm_id}/callback": {
            "post": {
                "summary": "Call the alarm's phone back with auto-answer (handling operator); "
                "the outcome shows in the timeline",
                "security": STAFF,
                "parameters": [_ALARM_ID],
                "responses": {
                    "202": {"description": "Calling"},
                    **errors(401, 403, 404, 409, 413),
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
                    "200": {"description": "Alarms", **json_body(ReviewList)},
                    **errors(401, 403, 422),
                },
            }
        },
        "/api/v1/review/figures": {
            "get": {
                "summary": "Service-level figures, in total and per group (supervisor, admin)",
                "security": STAFF,
                "parameters": [
                    *_REVIEW_QUERY,
                    {
                        "name": "group",
                        "in": "query",
                        "schema": {"type": "string", "enum": list(GROUPS)},
                    },
                ],
                "responses": {
                    "200": {"description": "Figures", **json_body(ReviewFigures)},
                    **errors(401, 403, 422),
                },
            }
        },
        "/api/v1/review/alarms.csv": {
            "get": {
                "summary": "Alarm history as CSV, one row per alarm (supervisor, admin)",
                **review,
                "responses": {"200": {"description": "text/csv"}, **errors(401, 403, 422)},
            }
        },
    }
