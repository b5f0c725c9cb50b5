"""Run one alarm through a dialplan with a fake clock and print its timeline.

No SIP, no network: the scripted events below stand in for operators, the phone
and managers, and time jumps from one deadline to the next.

    .venv/bin/python examples/dialplan_dryrun.py dialplans/
    .venv/bin/python examples/dialplan_dryrun.py dialplans/ --scenario dropped-call \\
        --at 2026-12-05T03:10:00+01:00 --alarm-type fall
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime

from gateway.alarm.types import AlarmType, Outcome
from gateway.config.errors import ConfigError
from gateway.dialplan import (
    AlarmClosed,
    AlarmContext,
    CallbackFailed,
    CallDropped,
    EscalationAction,
    EscalationEvent,
    EscalationMachine,
    ManagerAcknowledged,
    OperatorAccepted,
    OutcomeRecorded,
    TimelineNote,
    Trigger,
    VoiceActivity,
    VoiceConnected,
    load_plan_set,
)

Script = list[tuple[float, EscalationEvent]]

SCENARIOS: dict[str, Script] = {
    # Nobody accepts; the backup centre never confirms: supervisor, everyone rings.
    "unanswered": [(0, VoiceConnected())],
    # Accepted; the agent goes silent: no-response procedure, managers, supervisor.
    "silent-agent": [
        (0, VoiceConnected()),
        (6, OperatorAccepted("operator1")),
        (8, VoiceActivity()),
    ],
    # The call drops; the second callback is answered; the agent is safe.
    "dropped-call": [
        (0, VoiceConnected()),
        (4, OperatorAccepted("operator2")),
        (12, CallDropped("radio link lost")),
        (25, CallbackFailed(1, "no answer")),
        (33, VoiceConnected()),
        (35, VoiceActivity()),
        (60, OutcomeRecorded(Outcome.AGENT_SAFE)),
        (61, AlarmClosed()),
        (75, ManagerAcknowledged(Trigger.DOUBT_REMOVED, "On-call manager")),
    ],
    # Verified emergency: intervention dispatched, a manager acknowledges.
    "dispatch": [
        (0, VoiceConnected()),
        (3, OperatorAccepted("operator1")),
        (5, VoiceActivity()),
        (20, OutcomeRecorded(Outcome.INTERVENTION_DISPATCHED)),
        (50, ManagerAcknowledged(Trigger.DISPATCH, "On-call manager")),
        (90, AlarmClosed()),
    ],
}


def run(machine: EscalationMachine, script: Script, horizon: float) -> None:
    """Feed the script and fire deadlines in time order, printing every action."""
    show(0.0, machine.initial_actions)
    pending = sorted(script, key=lambda item: item[0])
    while True:
        deadline = machine.next_deadline()
        next_event = pending[0][0] if pending else None
        candidates = [t for t in (deadline, next_event) if t is not None]
        if not candidates or min(candidates) > horizon or machine.finished:
            break
        now = min(candidates)
        if next_event is not None and next_event <= now:
            _, event = pending.pop(0)
            print(f"{now:7.1f} s  >> {type(event).__name__} {_fields(event)}")
            show(now, machine.handle(event, now))
        else:
            show(now, machine.handle_timeout(now))
    print(f"-- phase {machine.phase.value}, finished={machine.finished}")


def show(now: float, actions: Sequence[EscalationAction]) -> None:
    for action in actions:
        if isinstance(action, TimelineNote):
            reason = f" ({action.reason})" if action.reason else ""
            print(f"{now:7.1f} s  {action.kind.value:8} {action.text}{reason}")
        else:
            print(f"{now:7.1f} s  -> {type(action).__name__} {_fields(action)}")


def _fields(item: object) -> str:
    slots: tuple[str, ...] = getattr(item, "__slots__", ())
    return " ".join(f"{name}={getattr(item, name)!s}" for name in slots)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="dialplan files or directories")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="silent-agent")
    parser.add_argument("--alarm-type", choices=[t.value for t in AlarmType], default="sos")
    parser.add_argument("--tenant", default="acme")
    parser.add_argument("--site", default="Warehouse 3")
    parser.add_argument("--pilot", action="store_true", help="the tenant is on trial")
    parser.add_argument(
        "--at",
        type=datetime.fromisoformat,
        default=datetime.fromisoformat("2026-12-07T10:00:00+01:00"),
        help="wall-clock time of the alarm, ISO 8601 with offset",
    )
    parser.add_argument("--horizon", type=float, default=600.0, help="seconds to simulate")
    args = parser.parse_args(argv)
    try:
        plans = load_plan_set(args.paths)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    context = AlarmContext(
        alarm_id="dryrun-1",
        tenant=args.tenant,
        alarm_type=AlarmType(args.alarm_type),
        agent="Sam Agent",
        site=args.site,
        pilot=args.pilot,
    )
    machine = EscalationMachine(plans, context, now=0.0, wall=args.at)
    print(f"route {machine.route.name!r}, forward to receiver: {machine.forward_to_receiver}")
    run(machine, SCENARIOS[args.scenario], args.horizon)
    return 0


if __name__ == "__main__":
    sys.exit(main())
