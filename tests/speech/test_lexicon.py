"""Lexicon parsing and matching: accents, case, recognition errors, no invented hits."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.speech.errors import LexiconError
from gateway.speech.lexicon import (
    Lexicon,
    Meaning,
    edit_distance,
    load_lexicon,
    parse_lexicon,
    tokenize,
)


@pytest.fixture(scope="module")
def fr() -> Lexicon:
    return load_lexicon("fr")


@pytest.fixture(scope="module")
def en() -> Lexicon:
    return load_lexicon("en")


def hits(lexicon: Lexicon, text: str) -> list[tuple[str, str]]:
    return [(m.phrase.category, m.phrase.text) for m in lexicon.find(tokenize(text))]


def test_tokenize_strips_accents_case_punctuation_and_splits_elisions() -> None:
    assert tokenize("À l\u2019aide ! AIDEZ-MOI, s'il vous plaît") == (
        "a", "l", "aide", "aidez", "moi", "s", "il", "vous", "plait",
    )  # fmt: skip
    assert tokenize("I can't move, don't shoot") == (
        "i", "cannot", "move", "do", "not", "shoot",
    )  # fmt: skip
    assert tokenize("Œil, cœur") == ("oeil", "coeur")


def test_edit_distance_stops_at_limit() -> None:
    assert edit_distance("secours", "secour", 1) == 1
    assert edit_distance("fausse", "fosse", 1) == 2  # limit + 1: gave up
    assert edit_distance("abc", "abcdef", 1) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AU SECOURS", [("help", "au secours")]),
        ("au secour", [("help", "au secours")]),  # one letter lost by the recogniser
        ("a l'aide", [("help", "à l'aide")]),
        ("Aidez moi", [("help", "aidez-moi")]),
        ("aider moi", [("help", "aidez-moi")]),  # one substitution in a long word
        ("aidezmoi", [("help", "aidez-moi")]),  # word break lost
        ("il a un couteau", [("threat", "il a un couteau")]),
        ("je suis tombée par terre", [("fall", "je suis tombée")]),
        ("laissez moi tranquille", [("aggression", "laissez-moi tranquille")]),
        ("il y a le feu", [("fire", "il y a le feu")]),
        ("je saigne", [("injury", "je saigne")]),
        ("c'est une fausse alerte", [("cancellation", "fausse alerte")]),
        ("Tout va bien, c'est une erreur", [("cancellation", "tout va bien"),
                                            ("cancellation", "c'est une erreur")]),
    ],
)  # fmt: skip
def test_french_phrases(fr: Lexicon, text: str, expected: list[tuple[str, str]]) -> None:
    assert hits(fr, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Help! Help me!", [("help", "help"), ("help", "help me")]),
        ("HE HAS A KNIFE", [("threat", "he has a knife")]),
        ("Leave me alone", [("aggression", "leave me alone")]),
        ("I've fallen, I can't get up", [("fall", "i've fallen"), ("fall", "i can't get up")]),
        ("im hurt", [("injury", "i'm hurt")]),  # apostrophe lost
        ("It was a false alarm", [("cancellation", "false alarm")]),
        ("I don't need help", [("cancellation", "i don't need help")]),
        ("call an ambulence", [("help", "call an ambulance")]),
    ],
)
def test_english_phrases(en: Lexicon, text: str, expected: list[tuple[str, str]]) -> None:
    assert hits(en, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "je ne suis pas blessé",
        "je vais au travail demain matin",
        "il fait beau aujourd'hui",
        "je reviens dans cinq minutes",
        "c'est une fosse commune",  # two edits from "fausse": too far
        "le secteur est calme",
        "la réunion commence à dix heures",
    ],
)
def test_french_calm_speech_gives_no_hit(fr: Lexicon, text: str) -> None:
    assert hits(fr, text) == []


@pytest.mark.parametrize(
    "text",
    [
        "I spoke to him yesterday",  # "spoke" is one letter from "smoke"
        "I'm not hurt",
        "I am not injured at all",
        "he held the door",
        "hello can you hear me",
        "I am calling about the delivery",
        "the meeting starts at ten",
        "he was fired last week",
        "we had a good lunch",
    ],
)
def test_english_calm_speech_gives_no_hit(en: Lexicon, text: str) -> None:
    assert hits(en, text) == []


def test_every_shipped_category_is_present_in_both_languages(fr: Lexicon, en: Lexicon) -> None:
    expected = {
        "help": Meaning.DISTRESS,
        "threat": Meaning.DISTRESS,
        "injury": Meaning.DISTRESS,
        "fall": Meaning.DISTRESS,
        "fire": Meaning.DISTRESS,
        "aggression": Meaning.DISTRESS,
        "cancellation": Meaning.CANCELLATION,
    }
    assert fr.categories == expected
    assert en.categories == expected


def test_overlapping_matches_keep_the_longest(en: Lexicon) -> None:
    assert hits(en, "somebody help") == [("help", "somebody help")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "x.yaml: expected a mapping with 'language' and 'categories'"),
        ({"categories": {}}, "x.yaml language: expected a language code such as 'fr'"),
        ({"language": "fr"}, "x.yaml categories: expected a non-empty mapping"),
        (
            {"language": "fr", "categories": {"help": {"meaning": "panic", "phrases": ["a"]}}},
            "x.yaml categories->help->meaning: expected one of distress, cancellation",
        ),
        (
            {"language": "fr", "categories": {"help": {"meaning": "distress", "phrases": []}}},
            "x.yaml categories->help->phrases: expected a non-empty list of phrases",
        ),
        (
            {"language": "fr", "categories": {"help": {"meaning": "distress", "phrases": ["!"]}}},
            "x.yaml categories->help->phrases->0: expected words, got '!'",
        ),
        (
            {"language": "fr", "negations": "pas", "categories": {}},
            "x.yaml negations: expected a list of words",
        ),
    ],
)
def test_malformed_lexicon_names_the_key(data: object, message: str) -> None:
    with pytest.raises(LexiconError) as info:
        parse_lexicon(data, "x.yaml")
    assert str(info.value) == message


def test_load_from_directory_checks_language_and_reports_missing_file(tmp_path: Path) -> None:
    (tmp_path / "de.yaml").write_text(
        "language: fr\ncategories:\n  help:\n    meaning: distress\n    phrases: [hilfe]\n"
    )
    with pytest.raises(LexiconError) as info:
        load_lexicon("de", tmp_path)
    assert str(info.value) == f"{tmp_path / 'de.yaml'} language: file says 'fr', expected 'de'"
    with pytest.raises(LexiconError, match=r"es\.yaml: cannot read lexicon"):
        load_lexicon("es", tmp_path)
    with pytest.raises(LexiconError, match="no lexicon shipped for language 'xx'"):
        load_lexicon("xx")


def test_edited_lexicon_file_is_used(tmp_path: Path) -> None:
    (tmp_path / "fr.yaml").write_text(
        "language: fr\ncategories:\n  help:\n    meaning: distress\n    phrases: [chef]\n"
    )
    lexicon = load_lexicon("fr", tmp_path)
    assert hits(lexicon, "appelez le chef") == [("help", "chef")]


SHIPPED = (load_lexicon("fr"), load_lexicon("en"))


@given(st.text(max_size=200))
def test_any_text_is_tokenized_and_searched_without_error(text: str) -> None:
    tokens = tokenize(text)
    assert all(token.isascii() and token.isalnum() for token in tokens)
    for lexicon in SHIPPED:
        for match in lexicon.find(tokens):
            assert 0 <= match.start < match.end <= len(tokens)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_phrase_is_found_in_its_own_words(language: str) -> None:
    lexicon = load_lexicon(language)
    for phrase in lexicon.phrases:
        found = lexicon.find(phrase.tokens)
        assert any(m.phrase.category == phrase.category and m.edits == 0 for m in found), phrase
