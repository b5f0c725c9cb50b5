"""Loading dialplan files: every refusal names file, line, key path and the fix, word for word."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from gateway.config.errors import ConfigError
from gateway.dialplan import check, load_plan_set, parse_plan_set
from gateway.dialplan.model import BackupStep, OfferStep, OverflowStep, Route, TimeWindow

REPO = Path(__file__).resolve().parents[2]

HEADER = """\
timezone: Europe/Paris
operator_groups:
  duty: {members: [op1, "sip:desk1@pbx.example.org"]}
backup_centres:
  partner: {dc09_receiver: partner}
contact_lists:
  managers:
    contacts:
      - {name: Boss, sip: "sip:boss@pbx.example.org"}
holidays:
  fr: [2026-12-25]
"""
# HEADER is 11 lines; routes start at line 12.


def issues_of(text: str, file: str = "dialplans/x.yaml") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_plan_set({file: text})
    return [str(issue) for issue in caught.value.issues]


def test_default_plan_loads_and_checks_clean() -> None:
    plans = load_plan_set([REPO / "dialplans"])
    assert [r.name for r in plans.routes] == ["discreet", "default"]
    assert plans.timezone.key == "Europe/Paris"
    default = plans.route("default")
    assert isinstance(default.steps[0], OfferStep) and default.steps[0].timeout == 10
    assert isinstance(default.steps[1], OverflowStep) and default.steps[1].timeout == 20
    assert isinstance(default.steps[2], BackupStep)
    assert default.callback is not None and (
        default.callback.attempts,
        default.callback.spacing,
    ) == (3, 20)
    assert default.no_response is not None and default.no_response.after == 30
    assert (
        default.triggers.dispatch
        and default.triggers.doubt_removed
        and default.triggers.no_response
    )
    assert check([REPO / "dialplans" / "default.yaml"]) == []


def test_negative_timeout_is_refused_with_file_line_and_path() -> None:
    text = HEADER + "routes:\n  - name: all\n    steps:\n      - offer: duty\n        timeout: -5\n"
    assert issues_of(text) == [
        "dialplans/x.yaml:16 routes->0->steps->0->timeout: expected seconds > 0, got -5"
    ]


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("{ofer: duty}", "unknown step kind 'ofer' (expected one of: offer, overflow, backup)"),
        ("{offer: duty, backup: partner}", "a step has exactly one kind, got offer and backup"),
        (
            "just-a-name",
            "expected a step such as {offer: <group>, timeout: 10}, got 'just-a-name'",
        ),
    ],
)
def test_step_kind_errors(step: str, message: str) -> None:
    text = HEADER + f"routes:\n  - name: all\n    steps:\n      - {step}\n"
    assert issues_of(text) == [f"dialplans/x.yaml:15 routes->0->steps->0: {message}"]


def test_unknown_option_inside_a_step_names_the_option() -> None:
    text = (
        HEADER + "routes:\n  - name: all\n    steps:\n      - backup: partner\n        tiemout: 3\n"
    )
    assert issues_of(text) == [
        "dialplans/x.yaml:16 routes->0->steps->0->tiemout: "
        "unknown option (check its spelling, or remove it)"
    ]


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (
            "    steps: [{offer: dutty}]\n",
            "dialplans/x.yaml:14 routes->0->steps->0->offer: "
            "no operator group named 'dutty' (defined: duty)",
        ),
        (
            "    steps: [{overflow: nobody}]\n",
            "dialplans/x.yaml:14 routes->0->steps->0->overflow: "
            "no operator group named 'nobody' (defined: duty)",
        ),
        (
            "    steps: [{backup: elsewhere}]\n",
            "dialplans/x.yaml:14 routes->0->steps->0->backup: "
            "no backup centre named 'elsewhere' (defined: partner)",
        ),
        (
            "    steps: [{offer: duty}]\n"
            "    triggers:\n      dispatch: {notify: bosses, message: hi}\n",
            "dialplans/x.yaml:16 routes->0->triggers->dispatch->notify: "
            "no contact list named 'bosses' (defined: managers)",
        ),
        (
            "    steps: [{offer: duty}]\n    match: {holidays: us}\n",
            "dialplans/x.yaml:15 routes->0->match->holidays: "
            "no holiday calendar named 'us' (defined: fr)",
        ),
    ],
)
def test_missing_references_are_refused(route: str, message: str) -> None:
    text = HEADER + "routes:\n  - name: all\n" + route
    found = issues_of(text)
    assert message in found
    if "match" not in route:
        assert len(found) == 1


def test_plan_without_catch_all_is_refused() -> None:
    text = (
        HEADER
        + "routes:\n  - name: acme\n    match: {tenants: [acme]}\n    steps: [{offer: duty}]\n"
    )
    assert issues_of(text) == [
        "dialplans/x.yaml:12 routes: no catch-all route: the last route must have no match "
        "conditions, so that every alarm is routed"
    ]


def test_route_after_the_catch_all_can_never_match() -> None:
    text = HEADER + (
        "routes:\n  - name: all\n    steps: [{offer: duty}]\n"
        "  - name: late\n    steps: [{offer: duty}]\n"
    )
    assert issues_of(text) == [
        "dialplans/x.yaml:15 routes->1: route 'late' can never match: catch-all route "
        "'all' (dialplans/x.yaml:13) takes every alarm before it"
    ]


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        (
            "timezone: Europe/Pari\n",
            "timezone: unknown IANA time zone (e.g. 'Europe/Paris'), got 'Europe/Pari'",
        ),
        ("colour: red\n", "colour: unknown option (check its spelling, or remove it)"),
    ],
)
def test_top_level_errors(snippet: str, message: str) -> None:
    text = HEADER.replace("timezone: Europe/Paris\n", "") + snippet
    text += "routes:\n  - name: all\n    steps: [{offer: duty}]\n"
    assert issues_of(text) == [f"dialplans/x.yaml:11 {message}"]


@pytest.mark.parametrize(
    ("contact", "path", "message"),
    [
        (
            "{name: A}",
            "contact_lists->m->contacts->0",
            "a contact needs a webhook, a sip URI or both",
        ),
        (
            "{name: A, sip: 'tel:123'}",
            "contact_lists->m->contacts->0->sip",
            "expected a SIP URI starting with sip: or sips:, got 'tel:123'",
        ),
        (
            "{name: A, webhook: 'ftp://x'}",
            "contact_lists->m->contacts->0->webhook",
            "expected an http:// or https:// URL, got 'ftp://x'",
        ),
        (
            "{name: A, sip: 'sip:a@b', available: [{days: [mo]}]}",
            "contact_lists->m->contacts->0->available->0->days",
            "unknown day 'mo' (expected mon, tue, wed, thu, fri, sat, sun "
            "or a range such as mon-fri)",
        ),
        (
            "{name: A, sip: 'sip:a@b', available: [{from: '25:00'}]}",
            "contact_lists->m->contacts->0->available->0->from",
            'expected a time of day "HH:MM" from "00:00" to "23:59", got \'25:00\'',
        ),
        (
            "{name: A, sip: 'sip:a@b', available: [{from: 8:00}]}",
            "contact_lists->m->contacts->0->available->0->from",
            'expected a quoted time of day such as "08:00" '
            "(unquoted, YAML reads a number), got 480",
        ),
    ],
)
def test_contact_errors(contact: str, path: str, message: str) -> None:
    text = (
        "timezone: UTC\ncontact_lists:\n  m:\n    contacts:\n"
        f"      - {contact}\nroutes: [{{name: all, steps: [{{offer: g}}]}}]\n"
        "operator_groups: {g: {members: [a]}}\n"
    )
    assert issues_of(text) == [f"dialplans/x.yaml:5 {path}: {message}"]


def test_duplicate_contact_names_in_a_list() -> None:
    text = (
        "timezone: UTC\ncontact_lists:\n  m:\n    contacts:\n"
        "      - {name: A, sip: 'sip:a@b'}\n      - {name: A, sip: 'sip:c@d'}\n"
        "routes: [{name: all, steps: [{offer: g}]}]\noperator_groups: {g: {members: [a]}}\n"
    )
    assert issues_of(text) == [
        "dialplans/x.yaml:3 contact_lists->m: contact names must be unique in a list, "
        "'A' appears more than once"
    ]


@pytest.mark.parametrize(
    ("group", "message"),
    [
        (
            "{members: []}",
            "operator_groups->g->members: List should have at least 1 item after validation, not 0",
        ),
        (
            "{members: ['bad name']}",
            "operator_groups->g->members->0: expected an operator user name or a SIP URI "
            "(sip:desk1@pbx.example), got 'bad name'",
        ),
        (
            "{members: [a], ring_time: true}",
            "operator_groups->g->ring_time: expected seconds > 0, got True",
        ),
        (
            "{members: [a], strategy: sometimes}",
            "operator_groups->g->strategy: Input should be 'all_at_once', 'in_turn' or "
            "'round_robin', got 'sometimes'",
        ),
    ],
)
def test_operator_group_errors(group: str, message: str) -> None:
    text = f"timezone: UTC\noperator_groups:\n  g: {group}\n"
    text += "routes: [{name: all, steps: [{offer: g}]}]\n"
    assert issues_of(text) == [f"dialplans/x.yaml:3 {message}"]


def test_backup_centre_needs_exactly_one_target() -> None:
    text = (
        "timezone: UTC\noperator_groups: {g: {members: [a]}}\nbackup_centres:\n"
        "  b: {dc09_receiver: r, sip_trunk: 'sip:t@x'}\n"
        "routes: [{name: all, steps: [{offer: g}]}]\n"
    )
    assert issues_of(text) == [
        "dialplans/x.yaml:4 backup_centres->b: give exactly one of dc09_receiver or sip_trunk"
    ]


def test_message_with_unknown_field() -> None:
    text = HEADER + (
        "routes:\n  - name: all\n    steps: [{offer: duty}]\n    triggers:\n"
        "      dispatch: {notify: managers, message: 'hi {who}'}\n"
    )
    assert issues_of(text) == [
        "dialplans/x.yaml:16 routes->0->triggers->dispatch->message: unknown field {who} in "
        "message (available: {agent}, {alarm_id}, {alarm_type}, {cue}, {outcome}, {site}, "
        "{tenant}), got 'hi {who}'"
    ]


def test_unknown_trigger_is_an_unknown_option() -> None:
    text = HEADER + (
        "routes:\n  - name: all\n    steps: [{offer: duty}]\n    triggers:\n"
        "      on_fire: {notify: managers, message: hi}\n"
    )
    assert issues_of(text) == [
        "dialplans/x.yaml:16 routes->0->triggers->on_fire: "
        "unknown option (check its spelling, or remove it)"
    ]


def test_yaml_syntax_error_names_the_line() -> None:
    assert issues_of("timezone: UTC\nroutes: [\n  - name: a\n") == [
        "dialplans/x.yaml:3: YAML syntax error: expected the node content, but found '-'"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "got an empty file"), ("- a\n", "got a list")],
)
def test_file_must_be_a_mapping(text: str, message: str) -> None:
    assert issues_of(text) == [
        f"dialplans/x.yaml:1: expected a mapping of dialplan sections, {message}"
    ]


def test_several_files_form_one_plan_set() -> None:
    plans = parse_plan_set(
        {
            "dialplans/10-acme.yaml": (
                "routes:\n  - name: acme\n    match: {tenants: [acme]}\n"
                "    steps: [{offer: duty}]\n"
            ),
            "dialplans/20-base.yaml": HEADER
            + "routes:\n  - name: all\n    steps: [{offer: duty}]\n",
        }
    )
    assert [r.name for r in plans.routes] == ["acme", "all"]
    assert plans.files == ("dialplans/10-acme.yaml", "dialplans/20-base.yaml")


def test_cross_file_duplicates_and_time_zone_conflicts() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_plan_set(
            {
                "a.yaml": HEADER + "routes:\n  - name: all\n    steps: [{offer: duty}]\n",
                "b.yaml": "timezone: UTC\noperator_groups:\n  duty: {members: [x]}\n",
            }
        )
    assert [str(i) for i in caught.value.issues] == [
        "b.yaml:1 timezone: time zone 'UTC' differs from 'Europe/Paris' set in a.yaml:1 (one "
        "plan set has one time zone; override it per route or contact)",
        "b.yaml:3 operator_groups->duty: operator group 'duty' is already defined in a.yaml:3",
    ]


def test_duplicate_route_names() -> None:
    text = HEADER + (
        "routes:\n  - name: r\n    match: {pilot: true}\n    steps: [{offer: duty}]\n"
        "  - name: r\n    steps: [{offer: duty}]\n"
    )
    assert issues_of(text) == [
        "dialplans/x.yaml:16 routes->1->name: route 'r' is already defined in dialplans/x.yaml:13"
    ]


def test_time_zone_is_required_somewhere() -> None:
    text = (
        HEADER.replace("timezone: Europe/Paris\n", "")
        + "routes: [{name: all, steps: [{offer: duty}]}]\n"
    )
    assert issues_of(text) == ["dialplans/x.yaml timezone: required in one of the dialplan files"]


def test_extension_keys_hold_anchors() -> None:
    text = HEADER + (
        "x-steps: &steps [{offer: duty, timeout: 7}]\nroutes:\n  - name: all\n    steps: *steps\n"
    )
    plans = parse_plan_set({"p.yaml": text})
    assert plans.routes[0].steps[0].timeout == 7


def test_directories_unreadable_files_and_empty_input(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(HEADER + "routes: [{name: all, steps: [{offer: duty}]}]\n")
    (tmp_path / "a.yml").write_text(
        "routes: [{name: pilot, match: {pilot: true}, steps: [{offer: duty}]}]\n"
    )
    (tmp_path / "notes.txt").write_text("ignored")
    assert [r.name for r in load_plan_set([tmp_path]).routes] == ["pilot", "all"]
    missing = tmp_path / "nope.yaml"
    assert [str(i) for i in check([missing])] == [
        f"{missing}: cannot read the file: No such file or directory"
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert [str(i) for i in check([empty])] == [f"{empty}: no *.yaml dialplan files in it"]
    assert [str(i) for i in check([])] == ["<dialplans>: no dialplan files given"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5", "5"), ("'#'", "#"), ("12", None), ("'a'", None)],
)
def test_acknowledgement_key(value: str, expected: str | None) -> None:
    text = HEADER.replace("  managers:\n", f"  managers:\n    ack_digit: {value}\n")
    text += "routes: [{name: all, steps: [{offer: duty}]}]\n"
    if expected is not None:
        assert parse_plan_set({"p.yaml": text}).contact_lists["managers"].ack_digit == expected
    else:
        raw = value.strip("'")
        shown = repr(int(raw)) if raw.isdigit() else repr(raw)
        assert issues_of(text) == [
            f"dialplans/x.yaml:8 contact_lists->managers->ack_digit: "
            f"expected one DTMF key: 0-9, * or #, got {shown}"
        ]


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        (
            "contact_lists: {m: {rounds: 0, contacts: [{name: A, sip: 'sip:a@b'}]}}",
            "x.yaml:2 contact_lists->m->rounds: expected a whole number >= 1, got 0",
        ),
        (
            "timezone: 5",
            "x.yaml:2 timezone: expected an IANA time zone name such as 'Europe/Paris', got 5",
        ),
        (
            "backup_centres: {b: {dc09_receiver: 'two words'}}",
            "x.yaml:2 backup_centres->b->dc09_receiver: "
            "expected a name of letters, digits, '.', '_' or '-', got 'two words'",
        ),
        (
            "routes: [{name: r, steps: [{offer: g}], "
            "triggers: {dispatch: {notify: m, message: ''}}}]",
            "x.yaml:2 routes->0->triggers->dispatch->message: expected a message text, got ''",
        ),
        (
            "routes: [{name: r, steps: [{offer: g}], "
            "triggers: {dispatch: {notify: m, message: '{'}}}]",
            "x.yaml:2 routes->0->triggers->dispatch->message: "
            "unbalanced braces in message (write {{ and }} for literal braces), got '{'",
        ),
        (
            "routes: [{name: r, match: {hours: [{days: []}]}, steps: [{offer: g}]}]",
            "x.yaml:2 routes->0->match->hours->0->days: "
            "expected a list of days such as [mon, tue] or [mon-fri]",
        ),
        (
            "routes: [{name: r, match: {tenants: []}, steps: [{offer: g}]}]",
            "x.yaml:2 routes->0->match->tenants: List should have at least 1 item after "
            "validation, not 0",
        ),
    ],
)
def test_value_errors(snippet: str, message: str) -> None:
    assert message in issues_of("operator_groups: {g: {members: [a]}}\n" + snippet + "\n", "x.yaml")


def test_models_accept_values_already_parsed() -> None:
    step = OfferStep.model_validate({"offer": "duty"})
    route = Route.model_validate({"name": "r", "steps": [step], "match": {"timezone": "UTC"}})
    assert route.steps == [step] and route.match.is_catch_all()
    window = TimeWindow.model_validate({"from": time(8, 0), "to": "09:00"})
    assert window.start == time(8, 0)
    with pytest.raises(KeyError):
        load_plan_set([REPO / "dialplans"]).route("missing")


def test_duplicate_keys_are_refused_instead_of_silently_dropped() -> None:
    text = HEADER + (
        "routes:\n  - name: acme\n    match: {tenants: [acme]}\n    steps: [{offer: duty}]\n"
        "routes:\n  - name: all\n    steps: [{offer: duty, timeout: 5, timeout: 7}]\n"
    )
    assert issues_of(text) == [
        "dialplans/x.yaml:16 routes: duplicate key (first at line 12); "
        "YAML would keep only the last one",
        "dialplans/x.yaml:18 routes->0->steps->0->timeout: duplicate key (first at line 18); "
        "YAML would keep only the last one",
    ]


def test_merge_keys_and_aliases_are_not_duplicates() -> None:
    text = HEADER + (
        "x-base: &base {offer: duty, timeout: 5}\n"
        "routes:\n  - name: all\n    steps: [{<<: *base, timeout: 7}, *base]\n"
    )
    steps = parse_plan_set({"p.yaml": text}).routes[0].steps
    assert [step.timeout for step in steps] == [7, 5]
