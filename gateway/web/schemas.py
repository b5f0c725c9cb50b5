"""Bodies of the console and review endpoints (the OpenAPI document uses these models)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.api.schemas import AlarmOut
from gateway.review.figures import AlarmFacts, Figures


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OfferIn(Body):
    """The browser's WebRTC offer (RTCSessionDescription)."""

    type: Literal["offer"]
    sdp: str = Field(min_length=1, max_length=65536)


class AnswerOut(BaseModel):
    type: Literal["answer"]
    sdp: str


class TalkIn(Body):
    """Listen (false, the default on connection) or talk to the agent (true)."""

    talk: bool


class TalkOut(BaseModel):
    talk: bool


class DoubtIn(Body):
    """The result of doubt removal ("levee de doute")."""

    verdict: Literal["false_alarm", "agent_safe", "emergency_confirmed"]
    comment: str | None = Field(None, max_length=4000)


class ReviewAlarmOut(AlarmOut):
    """An alarm with the review facts read off its timeline."""

    accepted_at: str | None
    accepted_by: str | None
    accept_s: float | None
    doubt_removal_s: float | None
    listeners: list[str]

    @classmethod
    def of_facts(cls, base: AlarmOut, f: AlarmFacts) -> ReviewAlarmOut:
        return cls(
            **base.model_dump(),
            accepted_at=f.accepted_at.isoformat() if f.accepted_at else None,
            accepted_by=f.accepted_by,
            accept_s=f.accept_s,
            doubt_removal_s=f.doubt_removal_s,
            listeners=list(f.listeners),
        )


class ReviewList(BaseModel):
    alarms: list[ReviewAlarmOut]
    truncated: bool = Field(description="More alarms matched than were returned")


class FiguresOut(BaseModel):
    alarms: int
    to_accept: int
    accepted: int
    accept_p50_s: float | None
    accept_p90_s: float | None
    accept_within_10s: float | None
    accept_within_40s: float | None
    doubt_removal_p50_s: float | None
    doubt_removal_p90_s: float | None
    closed: int
    outcomes: dict[str, int]
    false_alarm_rate: float | None

    @classmethod
    def of(cls, f: Figures) -> FiguresOut:
        return cls(
            alarms=f.alarms,
            to_accept=f.to_accept,
            accepted=f.accepted,
            accept_p50_s=f.accept_p50_s,
            accept_p90_s=f.accept_p90_s,
            accept_within_10s=f.accept_within_10s,
            accept_within_40s=f.accept_within_40s,
            doubt_removal_p50_s=f.doubt_removal_p50_s,
            doubt_removal_p90_s=f.doubt_removal_p90_s,
            closed=f.closed,
            outcomes=dict(f.outcomes),
            false_alarm_rate=f.false_alarm_rate,
        )


class ReviewFigures(BaseModel):
    group: str
    total: FiguresOut
    groups: dict[str, FiguresOut]
