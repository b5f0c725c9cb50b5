"""Supervisor review: alarm history search, service-level figures, CSV export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from gateway.alarm.types import AlarmType, Outcome
from gateway.api.errors import Invalid
from gateway.api.keys import CLOCK, STORE
from gateway.api.request import require_user
from gateway.api.schemas import AlarmOut
from gateway.api.tenancy import tenant_scope
from gateway.audit.record import audit
from gateway.review.figures import (
    AlarmFacts,
    GroupKey,
    Period,
    by_device,
    by_period,
    by_type,
    facts,
    figures,
    grouped,
    to_csv,
)
from gateway.store.records import AlarmRecord, Role
from gateway.web.schemas import FiguresOut, ReviewAlarmOut, ReviewFigures, ReviewList

routes = web.RouteTableDef()
REVIEWERS = (Role.SUPERVISOR, Role.ADMIN)
MAX_DAYS = 366
MAX_ALARMS = 10_000
LIST_LIMIT = 500
E = TypeVar("E", AlarmType, Outcome)
GROUPS = ("day", "week", "month", "device", "type")


@dataclass(frozen=True, slots=True)
class Query:
    """A review search, parsed and checked from the query string."""

    start: datetime
    end: datetime  # exclusive
    tz: tzinfo
    device: str | None
    alarm_type: AlarmType | None
    outcome: Outcome | None

    def matches(self, alarm: AlarmRecord) -> bool:
        return (
            (self.device is None or self.device.lower() in alarm.device_id.lower())
            and (self.alarm_type is None or alarm.alarm_type is self.alarm_type)
            and (self.outcome is None or alarm.outcome is self.outcome)
        )


def _enum(kind: type[E], name: str, raw: str | None) -> E | None:
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        allowed = ", ".join(v.value for v in kind)
        raise Invalid(f"unknown {name} {raw!r}; expected one of {allowed}") from None


def parse_query(request: web.Request) -> Query:
    """Dates are local days in ``tz`` (an IANA name, default UTC); ``to`` is inclusive."""
    q = request.query
    try:
        tz: tzinfo = ZoneInfo(q["tz"]) if q.get("tz") else UTC
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown time zone {q.get('tz')!r}; e.g. Europe/Paris") from None
    today = request.app[CLOCK]().astimezone(tz).date()
    try:
        last = date.fromisoformat(q["to"]) if q.get("to") else today
        first = date.fromisoformat(q["from"]) if q.get("from") else last - timedelta(days=29)
    except ValueError as exc:
        raise Invalid(f"from and to must be dates like 2026-12-04: {exc}") from None
    if first > last:
        raise Invalid(f"from ({first}) is after to ({last})")
    if (last - first).days + 1 > MAX_DAYS:
        raise Invalid(f"a review covers at most {MAX_DAYS} days, got {(last - first).days + 1}")
    return Query(
        start=datetime.combine(first, time(), tz),
        end=datetime.combine(last + timedelta(days=1), time(), tz),
        tz=tz,
        device=q.get("device") or None,
        alarm_type=_enum(AlarmType, "type", q.get("type")),
        outcome=_enum(Outcome, "outcome", q.get("outcome")),
    )


async def _search(request: web.Request) -> tuple[Query, list[tuple[AlarmRecord, AlarmFacts]]]:
    await require_user(request, *REVIEWERS)
    query = parse_query(request)
    history = await request.app[STORE].history(
        query.start, query.end, limit=MAX_ALARMS, tenant_names=tenant_scope(request).tenants
    )
    return query, [(a, facts(a)) for a in history if query.matches(a)]


@routes.get("/api/v1/review/alarms")
async def review_alarms(request: web.Request) -> web.Response:
    """Matching alarms, newest first, each with its review facts."""
    _, found = await _search(request)
    newest = found[::-1][:LIST_LIMIT]
    body = ReviewList(
        alarms=[ReviewAlarmOut.of_facts(AlarmOut.of(a, with_timeline=False), f) for a, f in newest],
        truncated=len(found) > LIST_LIMIT,
    )
    return web.json_response(body.model_dump(mode="json"))


@routes.get("/api/v1/review/figures")
async def review_figures(request: web.Request) -> web.Response:
    """Figures over the matching alarms, in total and per ``group``."""
    query, found = await _search(request)
    group = request.query.get("group", "day")
    keys: dict[str, GroupKey] = {
        "device": by_device,
        "type": by_type,
        **{p.value: by_period(p, query.tz) for p in Period},
    }
    if group not in keys:
        raise Invalid(f"unknown group {group!r}; expected one of {', '.join(GROUPS)}")
    items = [f for _, f in found]
    body = ReviewFigures(
        group=group,
        total=FiguresOut.of(figures(items)),
        groups={k: FiguresOut.of(v) for k, v in grouped(items, keys[group]).items()},
    )
    return web.json_response(body.model_dump(mode="json"))


@routes.get("/api/v1/review/alarms.csv")
async def review_csv(request: web.Request) -> web.Response:
    """The matching alarms as CSV, oldest first, one row each."""
    query, found = await _search(request)
    name = f"alarms_{query.start.date()}_{(query.end - timedelta(days=1)).date()}.csv"
    details = {**dict(request.query), "alarms": len(found)}
    await audit(request, "export.review_csv", target=name, details=details)
    return web.Response(
        text=to_csv(f for _, f in found),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
