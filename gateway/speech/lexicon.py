"""Keyword and phrase lexicons, matched on recognised text.

Text is reduced to plain tokens (accents, case and punctuation removed) so that
"À l'aide !" and "a l aide" are the same. Matching tolerates small recognition
errors in long words, with budgets tight enough not to invent hits: short words
must match exactly, and the whole phrase may carry at most one or two edits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path

import yaml

from gateway.speech.errors import LexiconError


class Meaning(StrEnum):
    """What a category tells the operator."""

    DISTRESS = "distress"
    CANCELLATION = "cancellation"


_CONTRACTIONS = (
    (re.compile(r"\bcan['\u2019]t\b"), "cannot"),
    (re.compile(r"\bwon['\u2019]t\b"), "will not"),
    (re.compile(r"n['\u2019]t\b"), " not"),
)
_NON_WORD = re.compile(r"[^0-9a-z]+")


def tokenize(text: str) -> tuple[str, ...]:
    """Lower-case ASCII tokens: accents stripped, punctuation and apostrophes split."""
    lowered = text.casefold()
    for pattern, replacement in _CONTRACTIONS:
        lowered = pattern.sub(replacement, lowered)
    decomposed = unicodedata.normalize("NFKD", lowered)
    ascii_text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    ascii_text = ascii_text.replace("œ", "oe").replace("æ", "ae")
    return tuple(token for token in _NON_WORD.split(ascii_text) if token)


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, or ``limit + 1`` as soon as it must exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def token_allowance(token: str) -> int:
    """Edits tolerated in one word: none up to 4 letters, 1 up to 8, then 2."""
    if len(token) <= 4:
        return 0
    return 1 if len(token) <= 8 else 2


def phrase_budget(tokens: Sequence[str]) -> int:
    """Edits tolerated over a whole phrase.

    A lone word of up to 6 letters must be exact ("smoke" must not match
    "spoke"); longer phrases get one edit, or two from 15 letters on.
    """
    letters = sum(len(token) for token in tokens)
    if len(tokens) == 1:
        return 0 if letters <= 6 else token_allowance(tokens[0])
    return 1 if letters < 15 else 2


@dataclass(frozen=True, slots=True)
class Phrase:
    """One lexicon entry."""

    text: str
    """As written in the lexicon file, shown to operators."""
    tokens: tuple[str, ...]
    category: str
    meaning: Meaning


@dataclass(frozen=True, slots=True)
class Match:
    """A phrase found in a token sequence, tokens ``start`` to ``end`` (exclusive)."""

    phrase: Phrase
    start: int
    end: int
    edits: int
    heard: str
    """The recognised tokens that matched, joined by spaces."""


class Lexicon:
    """The phrases of one language, grouped by category."""

    def __init__(self, language: str, phrases: Iterable[Phrase], negations: Iterable[str]) -> None:
        self.language = language
        self.phrases = tuple(phrases)
        self.negations = frozenset(token for word in negations for token in tokenize(word))
        self._budgets = {phrase: phrase_budget(phrase.tokens) for phrase in self.phrases}

    @property
    def categories(self) -> dict[str, Meaning]:
        """Category name to meaning, in file order."""
        return {phrase.category: phrase.meaning for phrase in self.phrases}

    def find(self, tokens: Sequence[str], *, negation_window: int = 3) -> list[Match]:
        """Every phrase heard in ``tokens``, longest first where two overlap.

        A distress phrase preceded within ``negation_window`` tokens by a negation
        ("not", "pas") is dropped: "I'm not hurt" is not an injury.
        """
        found: list[Match] = []
        for phrase in self.phrases:
            match = self._best_match(phrase, tokens)
            if match is None:
                continue
            before = tokens[max(0, match.start - negation_window) : match.start]
            if phrase.meaning is Meaning.DISTRESS and self.negations.intersection(before):
                continue
            found.append(match)
        found.sort(key=lambda m: (-(m.end - m.start), m.edits, m.start))
        kept: list[Match] = []
        for match in found:
            if all(match.end <= k.start or match.start >= k.end for k in kept):
                kept.append(match)
        kept.sort(key=lambda m: m.start)
        return kept

    def _best_match(self, phrase: Phrase, tokens: Sequence[str]) -> Match | None:
        size = len(phrase.tokens)
        budget = self._budgets[phrase]
        best: Match | None = None
        for start in range(len(tokens) - size + 1):
            window = tokens[start : start + size]
            edits = _window_edits(phrase.tokens, window, budget)
            if edits <= budget and (best is None or edits < best.edits):
                best = Match(phrase, start, start + size, edits, " ".join(window))
                if edits == 0:
                    return best
        if best is None and budget:
            best = _joined_match(phrase, tokens, budget)
        return best


def _window_edits(expected: Sequence[str], heard: Sequence[str], budget: int) -> int:
    total = 0
    for want, got in zip(expected, heard, strict=True):
        if want == got:
            continue
        allowance = min(token_allowance(want), budget - total)
        if allowance <= 0 or want[0] != got[0]:
            return budget + 1
        edits = edit_distance(want, got, allowance)
        if edits > allowance:
            return budget + 1
        total += edits
    return total


def _joined_match(phrase: Phrase, tokens: Sequence[str], budget: int) -> Match | None:
    """Compare spelling with word breaks ignored ("aide moi" heard as "aidemoi")."""
    target = "".join(phrase.tokens)
    size = len(phrase.tokens)
    for width in {max(1, size - 1), size + 1}:
        for start in range(len(tokens) - width + 1):
            window = tokens[start : start + width]
            joined = "".join(window)
            if joined[0] != target[0]:
                continue
            edits = edit_distance(target, joined, budget)
            if edits <= budget:
                return Match(phrase, start, start + width, edits, " ".join(window))
    return None


def parse_lexicon(data: object, source: str) -> Lexicon:
    """Build a lexicon from parsed YAML, naming the file and key of any mistake."""
    if not isinstance(data, dict):
        raise LexiconError(f"{source}: expected a mapping with 'language' and 'categories'")
    language = data.get("language")
    if not isinstance(language, str) or not language:
        raise LexiconError(f"{source} language: expected a language code such as 'fr'")
    negations = data.get("negations", [])
    if not isinstance(negations, list) or not all(isinstance(n, str) for n in negations):
        raise LexiconError(f"{source} negations: expected a list of words")
    categories = data.get("categories")
    if not isinstance(categories, dict) or not categories:
        raise LexiconError(f"{source} categories: expected a non-empty mapping")
    phrases: list[Phrase] = []
    for name, body in categories.items():
        where = f"{source} categories->{name}"
        if not isinstance(body, dict):
            raise LexiconError(f"{where}: expected a mapping with 'meaning' and 'phrases'")
        try:
            meaning = Meaning(str(body.get("meaning")))
        except ValueError:
            choices = ", ".join(m.value for m in Meaning)
            raise LexiconError(f"{where}->meaning: expected one of {choices}") from None
        entries = body.get("phrases")
        if not isinstance(entries, list) or not entries:
            raise LexiconError(f"{where}->phrases: expected a non-empty list of phrases")
        for index, text in enumerate(entries):
            tokens = tokenize(text) if isinstance(text, str) else ()
            if not tokens:
                raise LexiconError(f"{where}->phrases->{index}: expected words, got {text!r}")
            phrases.append(Phrase(text, tokens, str(name), meaning))
    return Lexicon(language, phrases, negations)


def load_lexicon(language: str, directory: Path | None = None) -> Lexicon:
    """Load ``<language>.yaml`` from ``directory``, or the lexicon shipped with the gateway."""
    name = f"{language}.yaml"
    if directory is None:
        resource = resources.files("gateway.speech").joinpath("lexicons").joinpath(name)
        source = f"gateway/speech/lexicons/{name}"
        if not resource.is_file():
            raise LexiconError(f"no lexicon shipped for language {language!r} ({source})")
        text = resource.read_text(encoding="utf-8")
    else:
        path = directory / name
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise LexiconError(f"{source}: cannot read lexicon ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise LexiconError(f"{source}: YAML syntax error: {exc}") from None
    lexicon = parse_lexicon(data, source)
    if lexicon.language != language:
        found = lexicon.language
        raise LexiconError(f"{source} language: file says {found!r}, expected {language!r}")
    return lexicon
