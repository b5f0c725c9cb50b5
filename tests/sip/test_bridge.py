"""Who hears whom, for every leg mode (table-driven)."""

from __future__ import annotations

import pytest

from gateway.sip.bridge import TAP, LegMode, link_changes, links

P = "phone"


def hears(all_links: frozenset[tuple[str, str]], sink: str) -> set[str]:
    return {source for source, target in all_links if target == sink}


def test_phone_alone_is_tapped_and_hears_injected_audio() -> None:
    assert links(P, {}) == {(P, TAP), (TAP, P)}


@pytest.mark.parametrize(
    ("mode", "phone_hears_op", "op_hears_phone"),
    [(LegMode.LISTEN, False, True), (LegMode.WHISPER, False, True), (LegMode.TALK, True, True)],
)
def test_single_operator(mode: LegMode, phone_hears_op: bool, op_hears_phone: bool) -> None:
    result = links(P, {"op": mode})
    assert ("op" in hears(result, P)) is phone_hears_op
    assert (P in hears(result, "op")) is op_hears_phone
    assert hears(result, TAP) == {P}, "the tap hears the phone alone"


def test_supervisor_listening_hears_operator_and_phone_but_is_never_heard() -> None:
    result = links(P, {"op": LegMode.TALK, "sup": LegMode.LISTEN})
    assert hears(result, "sup") == {P, "op", TAP}
    assert all(source != "sup" for source, _ in result)


def test_whisper_reaches_operator_only() -> None:
    result = links(P, {"op": LegMode.TALK, "sup": LegMode.WHISPER})
    assert "sup" in hears(result, "op")
    assert "sup" not in hears(result, P)


def test_barge_in_is_listen_to_talk_and_changes_only_the_new_links() -> None:
    before = links(P, {"op": LegMode.TALK, "sup": LegMode.LISTEN})
    after = links(P, {"op": LegMode.TALK, "sup": LegMode.TALK})
    start, stop = link_changes(before, after)
    assert start == [("sup", "op"), ("sup", P)]
    assert stop == []
    assert link_changes(after, before) == ([], start)


def test_no_self_links() -> None:
    result = links(P, {"a": LegMode.TALK, "b": LegMode.WHISPER, "c": LegMode.LISTEN})
    assert all(source != sink for source, sink in result)
