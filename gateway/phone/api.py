"""The phone's side of ``POST /api/v1/alarms``: one alarm, retried safely.

Every attempt carries the same ``Idempotency-Key``, so a retry after a lost answer
returns the alarm already created instead of raising a second one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from gateway.phone.errors import ApiError
from gateway.sip.messages import Headers

log = logging.getLogger("gateway.phone")

ALARMS_PATH = "/api/v1/alarms"
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
"""Seconds before each retry; the last one repeats."""


@dataclass(frozen=True, slots=True)
class Position:
    lat: float
    lon: float
    accuracy_m: float | None = None


@dataclass(frozen=True, slots=True)
class RaisedAlarm:
    """What the gateway answered: the alarm and how to attach the voice call to it."""

    id: str
    sip_uri: str
    headers: Headers
    replayed: bool
    """True when the gateway had already created this alarm (an earlier attempt got through)."""


def alarm_body(
    alarm_type: str, occurred_at: datetime, position: Position | None, battery_pct: int | None
) -> dict[str, Any]:
    """The JSON body of an alarm, as gateway/api/schemas.py ``AlarmIn`` reads it."""
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must carry a UTC offset")
    body: dict[str, Any] = {"type": alarm_type, "occurred_at": occurred_at.isoformat()}
    if position is not None:
        body["location"] = {"lat": position.lat, "lon": position.lon}
        if position.accuracy_m is not None:
            body["location"]["accuracy_m"] = position.accuracy_m
    if battery_pct is not None:
        body["battery_pct"] = battery_pct
    return body


def refusal_message(status: int, text: str) -> str:
    """The API's own explanation of a refusal (its ``error.message`` and field details)."""
    try:
        error = json.loads(text)["error"]
        message = str(error["message"])
        details = [f"{d['field']}: {d['message']}" for d in error.get("details") or []]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}: {text.strip()[:200] or 'no explanation given'}"
    return f"HTTP {status}: {'; '.join([message, *details])}"


def parse_created(data: Any) -> RaisedAlarm:
    """Read the 201 answer; a gateway that answers otherwise is named, not crashed on."""
    try:
        voice = data["voice"]
        headers = tuple((str(k), str(v)) for k, v in voice["headers"].items())
        return RaisedAlarm(str(data["id"]), str(voice["sip_uri"]), headers, False)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ApiError(f"unexpected answer from the gateway (missing {exc})", 201) from None


async def raise_alarm(
    url: str, token: str, body: dict[str, Any], attempts: int = 5, per_attempt: float = 10.0
) -> RaisedAlarm:
    """POST the alarm; retry network failures and 5xx answers with the same key."""
    key = uuid.uuid4().hex
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    endpoint = url.rstrip("/") + ALARMS_PATH
    last = "no attempt made"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=per_attempt)) as session:
        for attempt in range(attempts):
            if attempt:
                delay = RETRY_DELAYS[min(attempt - 1, len(RETRY_DELAYS) - 1)]
                log.warning("attempt %d/%d failed (%s); retrying in %.1f s",
                            attempt, attempts, last, delay)  # fmt: skip
                await asyncio.sleep(delay)
            try:
                async with session.post(endpoint, json=body, headers=headers) as answer:
                    text = await answer.text()
                    if answer.status == 201:
                        raised = parse_created(json.loads(text))
                        replayed = answer.headers.get("Idempotent-Replayed") == "true"
                        return RaisedAlarm(raised.id, raised.sip_uri, raised.headers, replayed)
                    if answer.status < 500:
                        raise ApiError(refusal_message(answer.status, text), answer.status)
                    last = refusal_message(answer.status, text)
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            except ValueError:
                raise ApiError("the gateway's 201 answer is not JSON", 201) from None
    raise ApiError(f"alarm not delivered to {endpoint} after {attempts} attempts: {last}")
