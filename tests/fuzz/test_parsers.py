"""Short fuzz runs of the parsers facing the outside, and the crashes fuzzing found.

The long runs are ``bench/fuzz/*.py`` (docs/reliability.md); these replay the same
targets on a few hundred mutants of the same seeds in every run of the suite.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.fuzz import config as config_fuzz
from bench.fuzz import dc09 as dc09_fuzz
from bench.fuzz import dialplan as dialplan_fuzz
from bench.fuzz.sipwire import invite, mutate, request
from gateway.config.errors import ConfigError
from gateway.config.load import DEFAULT_CONFIG, load_settings, parse_settings
from gateway.config.locate import MAX_YAML_VALUES
from gateway.dc09.errors import Dc09Error
from gateway.dialplan.load import load_plan_set, parse_plan_set
from gateway.sip.sipmsg import offered_codecs, parse_headers, wideband_only

QUICK = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def _edited(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    edits = st.tuples(st.integers(0, 1 << 16), st.binary(max_size=8), st.integers(0, 8))
    for position, inserted, deleted in draw(st.lists(edits, max_size=6)):
        at = position % (len(data) + 1)
        data[at : at + deleted] = inserted
    return bytes(data)


def mutants(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """Seeds with bytes inserted, deleted and replaced, or plain random bytes."""
    return st.one_of(_edited(seeds), st.binary(max_size=300))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("fuzz")


@QUICK
@given(mutants(dc09_fuzz.seeds()))
def test_dc09_codec_refuses_bad_frames_only_with_its_errors(data: bytes) -> None:
    # parse_frame may refuse; the receiver and transmitter cores let nothing escape
    with contextlib.suppress(Dc09Error):
        dc09_fuzz.target(data)


@QUICK
@given(data=mutants([DEFAULT_CONFIG.read_bytes(), config_fuzz.SMALL]))
def test_settings_refuse_bad_files_only_with_config_error(scratch: Path, data: bytes) -> None:
    (scratch / "gateway.toml").write_bytes(data)
    with contextlib.suppress(ConfigError):
        load_settings(scratch / "gateway.toml")


@QUICK
@given(data=mutants([dialplan_fuzz.BUNDLED.read_bytes(), dialplan_fuzz.SMALL]))
def test_dialplans_refuse_bad_files_only_with_config_error(scratch: Path, data: bytes) -> None:
    (scratch / "plan.yaml").write_bytes(data)
    with contextlib.suppress(ConfigError):
        load_plan_set([scratch / "plan.yaml"])


@QUICK
@given(st.randoms(use_true_random=False))
def test_the_worker_reads_any_mutated_invite_without_raising(rng: random.Random) -> None:
    base = invite(("127.0.0.1", 5070), ("127.0.0.1", 5080))
    if rng.random() < 0.2:
        base = request("OPTIONS", ("127.0.0.1", 5070), ("127.0.0.1", 5080))
    message = mutate(rng, base).decode("utf-8", "replace")
    parse_headers(message)
    offered_codecs(message)
    wideband_only(message.partition("\r\n\r\n")[2])


# --- crashes the long runs found, with the smallest input ---------------------------------


def refusal(text: str, parse: str = "yaml") -> str:
    with pytest.raises(ConfigError) as refused:
        if parse == "yaml":
            parse_plan_set({"plan.yaml": text})
        else:
            parse_settings(text, "gateway.toml")
    return str(refused.value)


def test_an_alias_inside_its_own_anchor_is_refused_not_a_recursion_error() -> None:
    assert refusal("a: &x [*x]\n") == "plan.yaml:1: a YAML alias refers to a node that contains it"
    assert refusal("a: &x {b: *x}\n") == (
        "plan.yaml:1: a YAML alias refers to a node that contains it"
    )


def test_aliases_of_aliases_expanding_to_billions_are_refused_at_once() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 9)]
    assert refusal("\n".join(lines) + "\n") == (
        f"plan.yaml:5: expands to more than {MAX_YAML_VALUES} values through YAML aliases"
    )


def test_aliases_sharing_a_small_value_still_load() -> None:
    plans = parse_plan_set({"plan.yaml": dialplan_fuzz.SMALL.decode()})
    assert plans.routes[0].steps == plans.routes[1].steps


@pytest.mark.parametrize(
    ("text", "parse", "message"),
    [
        ("a: " + "[" * 600 + "]" * 600, "yaml", "plan.yaml: YAML nested too deeply"),
        ("a: " + "{b: " * 1000 + "1" + "}" * 1000, "yaml", "plan.yaml: YAML nested too deeply"),
        ("a = " + "[" * 1000 + "]" * 1000, "toml", "gateway.toml: TOML nested too deeply"),
        (
            "a = " + "{b = " * 1000 + "1" + "}" * 1000,
            "toml",
            "gateway.toml: TOML nested too deeply",
        ),
    ],
    ids=["yaml-lists", "yaml-maps", "toml-arrays", "toml-tables"],
)
def test_deep_nesting_is_refused_not_a_recursion_error(text: str, parse: str, message: str) -> None:
    assert refusal(text, parse) == message


def test_an_impossible_date_is_refused_with_its_line_not_a_value_error() -> None:
    text = "holidays:\n  fr:\n    - 2026-01-01\n    - 2027-00-01\n"
    assert refusal(text) == "plan.yaml:4: invalid YAML value: month must be in 1..12"
