"""Generate the speech test set: distress, calm and false-alarm phrases, line sounds.

French and English from espeak-ng, natural English from Piper when installed,
each clean and mixed with noise or mains hum; plus silence, noise, hum, DTMF,
ringback and impacts without speech. Clips are 8 kHz s16le (the telephone
case) written to a cache directory with a manifest; nothing here is committed.

    .venv/bin/python bench/speech/make_corpus.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from gateway.speech import synth
from gateway.speech.audio import Samples
from gateway.speech.lexicon import Meaning, load_lexicon, tokenize

RATE = 8000
LEAD_S = 1.0
TAIL_S = 1.5

PHRASES: dict[str, dict[str, list[str]]] = {
    "en": {
        "distress": [
            "Help me!",
            "Please help me, I've fallen and I can't get up.",
            "Call the police, he has a knife!",
            "Leave me alone! Get away from me!",
            "There's a fire, I can see smoke everywhere.",
            "I'm bleeding, call an ambulance.",
            "Somebody help, I'm being attacked.",
            "I can't breathe.",
        ],
        "calm": [
            "Hello, I'm just checking the meter in the basement.",
            "The delivery is done, I'm heading back to the depot now.",
            "Yes, I can hear you. I'm walking to the car.",
            "I'm finishing my rounds on the third floor.",
        ],
        "false_alarm": [
            "Sorry, it's a false alarm, I pressed it by mistake.",
            "Everything is fine, false alarm.",
            "I'm okay, I don't need help.",
        ],
    },
    "fr": {
        "distress": [
            "Au secours !",
            "Aidez-moi, je suis tombé, je ne peux pas me relever.",
            "Appelez la police, il a un couteau !",
            "Laissez-moi tranquille ! Lâchez-moi !",
            "Au feu ! Il y a de la fumée partout.",
            "Je saigne, appelez une ambulance.",
            "À l'aide, on m'agresse !",
        ],
        "calm": [
            "Bonjour, je suis en train de relever les compteurs au sous-sol.",
            "La livraison est terminée, je retourne au dépôt.",
            "Oui je vous entends, je marche vers la voiture.",
        ],
        "false_alarm": [
            "Pardon, c'est une fausse alerte, j'ai appuyé par erreur.",
            "Tout va bien, c'est une fausse alarme.",
        ],
    },
}

BACKGROUNDS: dict[str, Callable[[float], Samples] | None] = {
    "clean": None,
    "noise10db": lambda s: synth.white_noise(s, RATE, -30, seed=7),
    "hum10db": lambda s: synth.hum(s, RATE),
}

LINE_SOUNDS: dict[str, Callable[[], Samples]] = {
    "silence": lambda: synth.silence(10, RATE),
    "white_noise": lambda: synth.white_noise(10, RATE, -25),
    "hum_50hz": lambda: synth.hum(10, RATE),
    "dtmf": lambda: np.concatenate([synth.dtmf("0123456789*#", RATE)] * 4),
    "ringback": lambda: synth.ringback(10, RATE),
    "impacts": lambda: np.concatenate(
        [np.concatenate((synth.silence(2.5, RATE), synth.impact(RATE))) for _ in range(3)]
    ),
}


@dataclass(frozen=True, slots=True)
class Clip:
    id: str
    language: str
    voice: str
    """espeak, piper or none (line sounds)."""
    kind: str
    """distress, calm, false_alarm or line."""
    background: str
    text: str
    expected_categories: list[str]
    """What the lexicon finds in the reference text: the recall target."""
    speech_end: float
    """Seconds into the clip where speech ends (the keyword ends there or before)."""
    duration: float


def default_cache() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "alarm-gateway" / "speech-corpus"


def _voices(language: str) -> list[tuple[str, Callable[[str], Samples]]]:
    voices: list[tuple[str, Callable[[str], Samples]]] = [
        ("espeak", lambda text: synth.espeak(text, language, RATE, 140))
    ]
    if language == "en" and synth.piper_available():
        voices.append(("piper", lambda text: synth.piper(text, RATE)))
    return voices


def build(out: Path) -> list[Clip]:
    """Write every clip and ``manifest.json`` into ``out``; return the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    clips: list[Clip] = []
    for language, kinds in PHRASES.items():
        lexicon = load_lexicon(language)
        for voice, speak in _voices(language):
            for kind, phrases in kinds.items():
                for index, text in enumerate(phrases):
                    speech = speak(text)
                    expected = sorted({
                        m.phrase.category for m in lexicon.find(tokenize(text))
                        if kind == "distress" or m.phrase.meaning is Meaning.CANCELLATION
                    })  # fmt: skip
                    for background, make_noise in BACKGROUNDS.items():
                        if background != "clean" and kind != "distress" and index > 0:
                            continue  # noisy variants of distress, one of each other kind
                        audio = np.concatenate(
                            (synth.silence(LEAD_S, RATE), speech, synth.silence(TAIL_S, RATE))
                        )
                        if make_noise is not None:
                            audio = audio + make_noise(audio.size / RATE) * _noise_gain(
                                speech, make_noise(1.0), 10.0
                            )
                        clip = Clip(
                            f"{language}-{voice}-{kind}-{index}-{background}",
                            language, voice, kind, background, text, expected,
                            round(LEAD_S + speech.size / RATE, 3), round(audio.size / RATE, 3),
                        )  # fmt: skip
                        (out / f"{clip.id}.raw").write_bytes(synth.to_pcm(audio))
                        clips.append(clip)
    for name, make in LINE_SOUNDS.items():
        audio = make()
        clip = Clip(f"line-{name}", "", "none", "line", name, "", [], 0.0, audio.size / RATE)
        (out / f"{clip.id}.raw").write_bytes(synth.to_pcm(audio))
        clips.append(clip)
    (out / "manifest.json").write_text(json.dumps([asdict(c) for c in clips], indent=1))
    return clips


def _noise_gain(speech: Samples, noise: Samples, snr_db: float) -> float:
    ratio = np.mean(speech**2) / (np.mean(noise**2) + 1e-12) / 10 ** (snr_db / 10)
    return float(np.sqrt(ratio))


def load(directory: Path) -> list[Clip]:
    """The manifest of a corpus built earlier, or a fresh build if there is none."""
    manifest = directory / "manifest.json"
    if not manifest.is_file():
        return build(directory)
    return [Clip(**item) for item in json.loads(manifest.read_text())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=default_cache())
    args = parser.parse_args()
    clips = build(args.out)
    print(f"{len(clips)} clips, {sum(c.duration for c in clips):.0f} s, in {args.out}")


if __name__ == "__main__":
    main()
