"""Dialplans: route alarms to operators, time-outs, fall-back and managerial escalation.

Pure code (no asyncio, no clock reads): ``load_plan_set``/``check`` read YAML
files, ``select_route`` chooses a route, and ``EscalationMachine`` turns events
and time-outs into actions that a runner carries out. See docs/dialplan.md.
"""

from gateway.dialplan.actions import (
    CallbackPhone,
    CancelOffer,
    EscalateToSupervisor,
    EscalationAction,
    ForwardToBackup,
    NoteKind,
    NotifyManager,
    Offer,
    StartNoResponseProcedure,
    TimelineNote,
)
from gateway.dialplan.errors import DialplanError, DialplanUsageError, EscalationProtocolError
from gateway.dialplan.evaluate import AlarmContext, RouteDecision, select_route
from gateway.dialplan.events import (
    AlarmClosed,
    BackupAccepted,
    BackupFailed,
    CallbackFailed,
    CallDropped,
    Channel,
    CueDetected,
    EscalationEvent,
    ManagerAcknowledged,
    ManagerFailed,
    NoVoice,
    OperatorAccepted,
    OperatorDeclined,
    OperatorReleased,
    OutcomeRecorded,
    VoiceActivity,
    VoiceConnected,
)
from gateway.dialplan.library import DialplanLibrary
from gateway.dialplan.load import check, load_plan_set, parse_plan_set
from gateway.dialplan.machine import EscalationMachine, Phase
from gateway.dialplan.model import PlanSet, Strategy, Trigger

__all__ = [
    "AlarmClosed",
    "AlarmContext",
    "BackupAccepted",
    "BackupFailed",
    "CallDropped",
    "CallbackFailed",
    "CallbackPhone",
    "CancelOffer",
    "Channel",
    "CueDetected",
    "DialplanError",
    "DialplanLibrary",
    "DialplanUsageError",
    "EscalateToSupervisor",
    "EscalationAction",
    "EscalationEvent",
    "EscalationMachine",
    "EscalationProtocolError",
    "ForwardToBackup",
    "ManagerAcknowledged",
    "ManagerFailed",
    "NoVoice",
    "NoteKind",
    "NotifyManager",
    "Offer",
    "OperatorAccepted",
    "OperatorDeclined",
    "OperatorReleased",
    "OutcomeRecorded",
    "Phase",
    "PlanSet",
    "RouteDecision",
    "StartNoResponseProcedure",
    "Strategy",
    "TimelineNote",
    "Trigger",
    "VoiceActivity",
    "VoiceConnected",
    "check",
    "load_plan_set",
    "parse_plan_set",
    "select_route",
]
