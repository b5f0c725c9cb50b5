"""Acoustic cues that need no model: shouting or screaming, and sudden impacts.

Pure and streaming: feed consecutive 16 kHz chunks with their offset and the VAD
decision; get ``Cue`` values back. Thresholds live in ``CueConfig`` and their
defaults are explained in docs/speech.md.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from gateway.speech.audio import MODEL_RATE, Samples, dbfs, estimate_pitch
from gateway.speech.events import Cue, CueKind


@dataclass(frozen=True, slots=True)
class CueConfig:
    """Tuning of the acoustic cues."""

    shout_min_dbfs: float = -14.0
    """RMS level of a voiced chunk to count as shouting (speech sits near -26 dBFS)."""
    shout_min_pitch_hz: float = 260.0
    """Raised fundamental: shouting and screaming push the voice well above speech."""
    shout_min_voicing: float = 0.5
    shout_min_s: float = 0.3
    """Loud high voice must last this long without a break."""
    shout_min_pitch_spread: float = 0.03
    """A voice's pitch wanders; a tone's (ringback, DTMF) stays within a few hertz."""
    impact_min_peak_dbfs: float = -10.0
    impact_rise_db: float = 25.0
    """Jump of a 4 ms block over the median level of the previous second."""
    impact_decay_db: float = 10.0
    impact_decay_s: float = 0.06
    """An impact dies away this much within this time; tones and speech do not."""
    refractory_s: float = 2.0
    """Same cue kind is not repeated within this time."""


_BLOCK = 64  # 4 ms at 16 kHz


def _block_levels(samples: Samples) -> tuple[list[float], list[float]]:
    usable = samples.size - samples.size % _BLOCK
    blocks = samples[:usable].reshape(-1, _BLOCK).astype(np.float64)
    power = np.mean(np.square(blocks), axis=1)
    energy_db = (10.0 * np.log10(power + 1e-12) + 3.0103).tolist()
    peak_db = (20.0 * np.log10(np.max(np.abs(blocks), axis=1) + 1e-9)).tolist()
    return energy_db, peak_db


class AcousticCueDetector:
    """Streaming detector of shouting and impacts on 16 kHz chunks."""

    def __init__(self, config: CueConfig | None = None) -> None:
        self.config = config or CueConfig()
        self._history = int(MODEL_RATE / _BLOCK)  # one second of blocks
        self._background: deque[float] = deque(maxlen=self._history)
        self._shout_pitches: list[float] = []
        self._last_emitted: dict[CueKind, float] = {}
        self._impact: _ImpactCandidate | None = None

    def process(self, samples: Samples, offset: float, speech: bool) -> list[Cue]:
        """Analyse one chunk starting at ``offset`` seconds; ``speech`` is the VAD decision."""
        cues = self._impacts(samples, offset)
        shout = self._shouting(samples, offset, speech)
        if shout is not None:
            cues.append(shout)
        return cues

    def _allowed(self, kind: CueKind, offset: float) -> bool:
        last = self._last_emitted.get(kind)
        return last is None or offset - last >= self.config.refractory_s

    def _emit(self, kind: CueKind, offset: float, text: str, confidence: float) -> Cue | None:
        if not self._allowed(kind, offset):
            return None
        self._last_emitted[kind] = offset
        return Cue(kind, round(offset, 3), text=text, confidence=round(confidence, 2))

    def _shouting(self, samples: Samples, offset: float, speech: bool) -> Cue | None:
        """Loud, high, varying voice held for ``shout_min_s`` without a break."""
        cfg = self.config
        level = dbfs(samples)
        pitch, voicing = estimate_pitch(samples, MODEL_RATE) if speech else (0.0, 0.0)
        loud_high = (
            level >= cfg.shout_min_dbfs
            and pitch >= cfg.shout_min_pitch_hz
            and voicing >= cfg.shout_min_voicing
        )
        if not loud_high:
            self._shout_pitches.clear()
            return None
        self._shout_pitches.append(pitch)
        if len(self._shout_pitches) * samples.size / MODEL_RATE < cfg.shout_min_s:
            return None
        spread = (max(self._shout_pitches) - min(self._shout_pitches)) / pitch
        self._shout_pitches.clear()
        if spread < cfg.shout_min_pitch_spread:
            return None
        end = offset + samples.size / MODEL_RATE
        return self._emit(CueKind.SHOUTING, end, f"{level:.0f} dBFS, {pitch:.0f} Hz", voicing)

    def _impacts(self, samples: Samples, offset: float) -> list[Cue]:
        """Onset: a 4 ms block jumps ``impact_rise_db`` over the last second's median.

        The candidate is then watched for ``impact_decay_s``: an impact peaks at
        once, dies away by ``impact_decay_db`` and is not periodic. Speech onsets
        swell into voiced vowels and tones (DTMF, ringback) hold their level, so
        neither passes.
        """
        cfg = self.config
        cues: list[Cue] = []
        energies, peaks = _block_levels(samples)
        for index, (energy, peak) in enumerate(zip(energies, peaks, strict=True)):
            block = samples[index * _BLOCK : (index + 1) * _BLOCK]
            if self._impact is not None:
                self._impact.add(block, energy)
                if self._impact.duration >= cfg.impact_decay_s:
                    cue = self._judge_impact(self._impact)
                    cues.extend([cue] if cue is not None else [])
                    self._impact = None
            elif len(self._background) >= self._history // 4:
                floor = float(np.median(self._background))
                if peak >= cfg.impact_min_peak_dbfs and energy - floor >= cfg.impact_rise_db:
                    at = offset + index * _BLOCK / MODEL_RATE
                    self._impact = _ImpactCandidate(at, energy, peak, [block], [energy])
            self._background.append(energy)
        return cues

    def _judge_impact(self, candidate: _ImpactCandidate) -> Cue | None:
        cfg = self.config
        tail = max(candidate.energies[-3:])
        if max(candidate.energies) > candidate.onset_db + 3.0:
            return None  # still swelling: a voice or a tone starting
        if tail > candidate.onset_db - cfg.impact_decay_db:
            return None  # did not die away
        audio = np.concatenate(candidate.blocks)
        _pitch, voicing = estimate_pitch(audio, MODEL_RATE)
        if voicing >= 0.5:
            return None  # periodic: speech or a tone
        text = f"peak {candidate.peak_db:.0f} dBFS"
        return self._emit(CueKind.IMPACT, candidate.offset, text, 1.0 - voicing)


@dataclass(slots=True)
class _ImpactCandidate:
    """A sharp onset being watched until it proves to be an impact or not."""

    offset: float
    onset_db: float
    peak_db: float
    blocks: list[Samples]
    energies: list[float]

    def add(self, block: Samples, energy: float) -> None:
        self.blocks.append(block)
        self.energies.append(energy)

    @property
    def duration(self) -> float:
        return len(self.blocks) * _BLOCK / MODEL_RATE
