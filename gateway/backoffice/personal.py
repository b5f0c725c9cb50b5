"""One agent's personal data: export it (right of access) or erase it (right to erasure).

The HTTP routes and the CLI share these. Erasure keeps the alarms as anonymous
statistics (type, times, outcome, tenant, site) and removes what identifies or
locates the person: name, phone, safety notes, device labels, positions, the
words of transcripts, and call recordings.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from gateway.api.schemas import AlarmOut
from gateway.recorder import erase_recordings, recordings_of
from gateway.store.store import Store


class PersonalDataOut(BaseModel):
    agent: dict[str, Any] = Field(description="The agent's record as stored")
    devices: list[dict[str, Any]] = Field(description="Their devices, secrets left out")
    alarms: list[AlarmOut] = Field(description="Alarms of their devices with positions, timelines")
    recordings: dict[str, list[str]] = Field(description="Alarm id -> call recording files")


class ErasureOut(BaseModel):
    agent_id: str
    alarms: list[str] = Field(description="Their alarms, kept as anonymous statistics")
    recordings_removed: list[str] = Field(description="Recording files deleted (alarm/file)")


def recordings_directory(data_dir: Path) -> Path:
    """Where calls are recorded (see gateway.recorder)."""
    return data_dir / "recordings"


async def export_personal_data(
    store: Store, data_dir: Path, agent_id: str
) -> PersonalDataOut | None:
    """Everything held about the agent; None if there is no such agent."""
    found = await store.personal_data(agent_id)
    if found is None:
        return None
    directory = recordings_directory(data_dir)
    return PersonalDataOut(
        agent=found.agent,
        devices=found.devices,
        alarms=[AlarmOut.of(a, with_timeline=True) for a in found.alarms],
        recordings={
            a.id: names
            for a in found.alarms
            if (names := [p.name for p in recordings_of(directory, a.id)])
        },
    )


async def erase_personal_data(
    store: Store, data_dir: Path, agent_id: str, now: datetime
) -> ErasureOut:
    """Erase the agent's personal data (idempotent). Raises NotFound."""
    alarm_ids = await store.erase_agent(agent_id, now)
    removed = await asyncio.to_thread(erase_recordings, recordings_directory(data_dir), alarm_ids)
    return ErasureOut(
        agent_id=agent_id,
        alarms=alarm_ids,
        recordings_removed=[f"{p.parent.name}/{p.name}" for p in removed],
    )
