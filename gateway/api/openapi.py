"""The OpenAPI 3.1 document, generated from the pydantic models so it cannot drift."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel

from gateway import __version__
from gateway.alarm.types import AlarmState
from gateway.api.routes_acknowledgements import AcknowledgementIn
from gateway.api.routes_recordings import RecordingList
from gateway.api.routes_stations import ModeIn, StationIn, StationOut
from gateway.api.schemas import (
    AlarmCreated,
    AlarmIn,
    AlarmList,
    AlarmOut,
    CloseIn,
    ErrorOut,
    EscalateIn,
    LocationIn,
    LoginIn,
    NoteIn,
    ReleaseIn,
    SessionOut,
)
from gateway.backoffice.openapi_paths import BACKOFFICE_MODELS, backoffice_paths
from gateway.web.openapi_paths import CONSOLE_MODELS, console_paths

_MODELS: tuple[type[BaseModel], ...] = (
    AlarmIn,
    AlarmCreated,
    AlarmOut,
    AlarmList,
    LocationIn,
    LoginIn,
    SessionOut,
    ErrorOut,
    ReleaseIn,
    EscalateIn,
    NoteIn,
    CloseIn,
    StationIn,
    ModeIn,
    StationOut,
    RecordingList,
    AcknowledgementIn,
    *CONSOLE_MODELS,
    *BACKOFFICE_MODELS,
)
_REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": _ref(model)}}}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
        400: "Malformed JSON",
        401: "Missing or invalid credentials",
        403: "Role not allowed",
        404: "No such alarm",
        409: "Conflicting request or state",
        413: "Body too large",
        415: "Not JSON",
        503: "The SIP voice channel is not running or has no free line",
        422: "A field is invalid; the message names it",
    }
    return {str(s): {"description": text[s], **_json(ErrorOut)} for s in statuses}


_STAFF_ACTIONS: tuple[tuple[str, str, type[BaseModel] | None], ...] = (
    ("accept", "Take the alarm to remove doubt (operator, supervisor)", None),
    ("release", "Give the alarm back to the queue", ReleaseIn),
    ("escalate", "Record that emergency services or people were engaged", EscalateIn),
    ("notes", "Add a note to the timeline", NoteIn),
    ("close", "Close with an explicit outcome", CloseIn),
)
_LEG_ID = {"name": "leg_id", "in": "path", "required": True, "schema": {"type": "string"}}
_ALARM_ID = {"name": "alarm_id", "in": "path", "required": True, "schema": {"type": "string"}}
_DEVICE: list[dict[str, list[str]]] = [{"deviceToken": []}]
_STAFF: list[dict[str, list[str]]] = [{"sessionToken": []}, {"sessionCookie": []}]


@functools.cache
def openapi_document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in _MODELS:
        schema = model.model_json_schema(ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    device_write = _errors(400, 401, 404, 409, 413, 415, 422)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "alarm-gateway",
            "version": __version__,
            "description": "Alarms from lone-worker phones, for monitoring-centre operators.",
        },
        "paths": {
            "/api/v1/alarms": {
                "post": {
                    "summary": "Raise an alarm (from a device)",
                    "security": _DEVICE,
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": "Same key, same alarm: retries never duplicate it.",
                            "schema": {"type": "string", "minLength": 1, "maxLength": 128},
                        }
                    ],
                    "requestBody": {"required": True, **_json(AlarmIn)},
                    "responses": {
                        "201": {
                            "description": "Stored; how to attach the voice call",
                            **_json(AlarmCreated),
                        },
                        **_errors(400, 401, 409, 413, 415, 422),
                    },
                },
                "get": {
                    "summary": "List alarms, newest first",
                    "security": _STAFF,
                    "parameters": [
                        {
                            "name": "state",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": [s.value for s in AlarmState]},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                        },
                        {
                            "name": "before",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "format": "date-time"},
                        },
                    ],
                    "responses": {
                        "200": {"description": "Alarms", **_json(AlarmList)},
                        **_errors(401, 403, 422),
                    },
                },
            },
            "/api/v1/alarms/{alarm_id}": {
                "get": {
                    "summary": "One alarm with its timeline",
                    "security": _STAFF,
                    "parameters": [_ALARM_ID],
                    "responses": {
                        "200": {"description": "The alarm", **_json(AlarmOut)},
                        **_errors(401, 403, 404),
                    },
                },
            },
            "/api/v1/alarms/{alarm_id}/location": {
                "post": {
                    "summary": "Position update during the alarm (from its device)",
                    "security": _DEVICE,
                    "parameters": [_ALARM_ID],
                    "requestBody": {"required": True, **_json(LocationIn)},
                    "responses": {
                        "200": {"description": "Updated", **_json(AlarmOut)},
                        **device_write,
                    },
                },
            },
            "/api/v1/alarms/{alarm_id}/cancel": {
                "post": {
                    "summary": "The agent cancels (from its device)",
                    "security": _DEVICE,
                    "parameters": [_ALARM_ID],
                    "responses": {
                        "200": {"description": "Recorded", **_json(AlarmOut)},
                        **_errors(401, 404, 409, 413),
                    },
                },
            },
            **{
                f"/api/v1/alarms/{{alarm_id}}/{action}": {
                    "post": {
                        "summary": summary,
                        "security": _STAFF,
                        "parameters": [_ALARM_ID],
                        **({"requestBody": {"required": True, **_json(model)}} if model else {}),
                        "responses": {
                            "200": {"description": "Recorded", **_json(AlarmOut)},
                            **_errors(400, 401, 403, 404, 409, 413, 415, 422),
                        },
                    }
                }
                for action, summary, model in _STAFF_ACTIONS
            },
            "/api/v1/alarms/{alarm_id}/stations": {
                "post": {
                    "summary": "Call an operator SIP station into the alarm's call",
                    "security": _STAFF,
                    "parameters": [_ALARM_ID],
                    "requestBody": {"required": True, **_json(StationIn)},
                    "responses": {
                        "201": {"description": "Joined", **_json(StationOut)},
                        **_errors(400, 401, 403, 404, 409, 415, 422, 503),
                    },
                }
            },
            "/api/v1/alarms/{alarm_id}/stations/{leg_id}/mode": {
                "post": {
                    "summary": "Switch a station between listen, whisper and talk (barge)",
                    "security": _STAFF,
                    "parameters": [_ALARM_ID, _LEG_ID],
                    "requestBody": {"required": True, **_json(ModeIn)},
                    "responses": {
                        "200": {"description": "Applied", **_json(StationOut)},
                        **_errors(400, 401, 403, 404, 409, 415, 422, 503),
                    },
                }
            },
            "/api/v1/alarms/{alarm_id}/stations/{leg_id}": {
                "delete": {
                    "summary": "Hang up a station",
                    "security": _STAFF,
                    "parameters": [_ALARM_ID, _LEG_ID],
                    "responses": {
                        "204": {"description": "Hung up"},
                        **_errors(401, 403, 404, 503),
                    },
                }
            },
            "/api/v1/alarms/{alarm_id}/recordings": {
                "get": {
                    "summary": "The alarm's call recordings (supervisor, admin)",
                    "security": _STAFF,
                    "parameters": [_ALARM_ID],
                    "responses": {
                        "200": {"description": "File names", **_json(RecordingList)},
                        **_errors(401, 403),
                    },
                }
            },
            "/api/v1/alarms/{alarm_id}/recordings/{name}": {
                "get": {
                    "summary": "One recording, stereo WAV: phone left, operator right",
                    "security": _STAFF,
                    "parameters": [
                        _ALARM_ID,
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": {"description": "audio/wav"},
                        **_errors(401, 403, 404),
                    },
                }
            },
            "/api/v1/acknowledgements": {
                "post": {
                    "summary": "A manager acknowledges a notification (link sent by webhook)",
                    "security": [],
                    "requestBody": {"required": True, **_json(AcknowledgementIn)},
                    "responses": {
                        "202": {"description": "Acknowledged: the escalation chain stops"},
                        **_errors(400, 403, 413, 415, 422, 503),
                    },
                }
            },
            "/api/v1/sessions": {
                "post": {
                    "summary": "Log in (operators, supervisors, admins)",
                    "security": [],
                    "requestBody": {"required": True, **_json(LoginIn)},
                    "responses": {
                        "201": {"description": "Session", **_json(SessionOut)},
                        **_errors(400, 401, 413, 415, 422),
                    },
                },
            },
            "/api/v1/sessions/current": {
                "delete": {
                    "summary": "Log out",
                    "security": [],
                    "responses": {"204": {"description": "Logged out"}},
                },
            },
            "/api/v1/events": {
                "get": {
                    "summary": "Live events (WebSocket upgrade): one JSON message per change",
                    "security": _STAFF,
                    "responses": {"101": {"description": "Switching to WebSocket"}, **_errors(401)},
                },
            },
            "/healthz": {
                "get": {
                    "summary": "Health",
                    "security": [],
                    "responses": {
                        "200": {"description": "Database answers"},
                        "503": {"description": "Database unreachable"},
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1"}},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "security": [],
                    "responses": {"200": {"description": "Text exposition format"}},
                }
            },
            **console_paths(),
            **backoffice_paths(_errors),
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "deviceToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Device token from 'alarm-gateway device add'",
                },
                "sessionToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Token from POST /api/v1/sessions",
                },
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "gw_session"},
            },
        },
    }
