"""The OpenAPI 3.1 document, generated from the pydantic models so it cannot drift."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel

from gateway import __version__
from gateway.alarm.types import AlarmState
from gateway.api.openapi_parts import REF, STAFF, errors, json_body, path_param
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
from gateway.audit.openapi_paths import AUDIT_MODELS, audit_paths
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
    *AUDIT_MODELS,
)
_STAFF_ACTIONS: tuple[tuple[str, str, type[BaseModel] | None], ...] = (
    ("accept", "Take the alarm to remove doubt (operator, supervisor)", None),
    ("release", "Give the alarm back to the queue", ReleaseIn),
    ("escalate", "Record that emergency services or people were engaged", EscalateIn),
    ("notes", "Add a note to the timeline", NoteIn),
    ("close", "Close with an explicit outcome", CloseIn),
)
_LEG_ID = path_param("leg_id")
_ALARM_ID = path_param("alarm_id")
_DEVICE: list[dict[str, list[str]]] = [{"deviceToken": []}]


@functools.cache
def openapi_document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in _MODELS:
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    device_write = errors(400, 401, 404, 409, 413, 415, 422, 503)
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
                    "requestBody": {"required": True, **json_body(AlarmIn)},
                    "responses": {
                        "201": {
                            "description": "Stored; how to attach the voice call",
                            **json_body(AlarmCreated),
                        },
                        **errors(400, 401, 409, 413, 415, 422),
                    },
                },
                "get": {
                    "summary": "List alarms, newest first",
                    "security": STAFF,
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
                        "200": {"description": "Alarms", **json_body(AlarmList)},
                        **errors(401, 403, 422),
                    },
                },
            },
            "/api/v1/alarms/{alarm_id}": {
                "get": {
                    "summary": "One alarm with its timeline",
                    "security": STAFF,
                    "parameters": [_ALARM_ID],
                    "responses": {
                        "200": {"description": "The alarm", **json_body(AlarmOut)},
                        **errors(401, 403, 404),
                    },
                },
            },
            "/api/v1/alarms/{alarm_id}/location": {
                "post": {
                    "summary": "Position update during the alarm (from its device)",
                    "security": _DEVICE,
                    "parameters": [_ALARM_ID],
                    "requestBody": {"required": True, **json_body(LocationIn)},
                    "responses": {
                        "200": {"description": "Updated", **json_body(AlarmOut)},
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
                        "200": {"description": "Recorded", **json_body(AlarmOut)},
                        **errors(401, 404, 409, 413),
                    },
                },
            },
            **{
                f"/api/v1/alarms/{{alarm_id}}/{action}": {
                    "post": {
                        "summary": summary,
                        "security": STAFF,
                        "parameters": [_ALARM_ID],
                        **(
                            {"requestBody": {"required": True, **json_body(model)}} if model else {}
                        ),
                        "responses": {
                            "200": {"description": "Recorded", **json_body(AlarmOut)},
                            **errors(400, 401, 403, 404, 409, 413, 415, 422),
                        },
                    }
                }
                for action, summary, model in _STAFF_ACTIONS
            },
            "/api/v1/alarms/{alarm_id}/stations": {
                "post": {
                    "summary": "Call an operator SIP station into the alarm's call",
                    "security": STAFF,
                    "parameters": [_ALARM_ID],
                    "requestBody": {"required": True, **json_body(StationIn)},
                    "responses": {
                        "201": {"description": "Joined", **json_body(StationOut)},
                        **errors(400, 401, 403, 404, 409, 415, 422, 503),
                    },
                }
            },
            "/api/v1/alarms/{alarm_id}/stations/{leg_id}/mode": {
                "post": {
                    "summary": "Switch a station between listen, whisper and talk (barge)",
                    "security": STAFF,
                    "parameters": [_ALARM_ID, _LEG_ID],
                    "requestBody": {"required": True, **json_body(ModeIn)},
                    "responses": {
                        "200": {"description": "Applied", **json_body(StationOut)},
                        **errors(400, 401, 403, 404, 409, 415, 422, 503),
                    },
                }
            },
            "/api/v1/alarms/{alarm_id}/stations/{leg_id}": {
                "delete": {
                    "summary": "Hang up a station",
                    "security": STAFF,
                    "parameters": [_ALARM_ID, _LEG_ID],
                    "responses": {
                        "204": {"description": "Hung up"},
                        **errors(401, 403, 404, 503),
                    },
                }
            },
            "/api/v1/alarms/{alarm_id}/recordings": {
                "get": {
                    "summary": "The alarm's call recordings (supervisor, admin)",
                    "security": STAFF,
                    "parameters": [_ALARM_ID],
                    "responses": {
                        "200": {"description": "File names", **json_body(RecordingList)},
                        **errors(401, 403, 404),
                    },
                }
            },
            "/api/v1/alarms/{alarm_id}/recordings/{name}": {
                "get": {
                    "summary": "One recording, stereo WAV: phone left, operator right",
                    "security": STAFF,
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
                        **errors(401, 403, 404),
                    },
                }
            },
            "/api/v1/acknowledgements": {
                "post": {
                    "summary": "A manager acknowledges a notification (link sent by webhook)",
                    "security": [],
                    "requestBody": {"required": True, **json_body(AcknowledgementIn)},
                    "responses": {
                        "202": {"description": "Acknowledged: the escalation chain stops"},
                        **errors(400, 403, 413, 415, 422, 503),
                    },
                }
            },
            "/api/v1/sessions": {
                "post": {
                    "summary": "Log in (operators, supervisors, admins)",
                    "security": [],
                    "requestBody": {"required": True, **json_body(LoginIn)},
                    "responses": {
                        "201": {"description": "Session", **json_body(SessionOut)},
                        **errors(400, 401, 413, 415, 422),
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
                    "security": STAFF,
                    "responses": {
                        "101": {"description": "Switching to WebSocket"},
                        **errors(400, 401),
                    },
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
            **backoffice_paths(),
            **audit_paths(),
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
