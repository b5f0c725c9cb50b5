"""The CSV import plan, sans I/O: every row checked, errors by line, licences counted."""

from __future__ import annotations

import pytest

from gateway.backoffice.agents import (
    Agent,
    DeviceEntry,
    ImportPlan,
    KnownDevice,
    RowError,
    Snapshot,
    check_phone,
    check_sip_uri,
    parse_csv,
    plan_import,
)

HEADER = "agent_id,name,tenant,site,agent_group,language,phone,safety_notes,device_id,sip_uri\n"
EMPTY = Snapshot(licences={"north": None, "south": 2}, used={})


def plan(text: str, snapshot: Snapshot = EMPTY, tenants: set[str] | None = None) -> ImportPlan:
    allows = (lambda _t: True) if tenants is None else (lambda t: t in tenants)
    return plan_import(parse_csv(text), snapshot, allows)


def errors(result: ImportPlan) -> list[tuple[int, str | None, str]]:
    return [(e.line, e.column, e.reason) for e in result.errors]


def applied(result: ImportPlan, before: Snapshot = EMPTY) -> Snapshot:
    """The database after the plan, as the next import's snapshot sees it."""
    agents = {**before.agents, **{a.id: a for a in (*result.new_agents, *result.changed_agents)}}
    devices = dict(before.devices)
    for entry in (*result.new_devices, *result.changed_devices):
        devices[entry.id] = KnownDevice(entry, active=True)
    owners = {d.entry.sip_uri: i for i, d in devices.items() if d.entry.sip_uri}
    used: dict[str, int] = {}
    for device in devices.values():
        if device.active and device.entry.tenant:
            used[device.entry.tenant] = used.get(device.entry.tenant, 0) + 1
    return Snapshot(before.licences, used, agents, devices, owners)


MIXED = (
    HEADER
    + "a1,Ana Lopez,north,lyon,night,fr,+33 6 12 34 56 78,,d1,sip:D1@PBX.example\n"  # 2 good
    + "a2,,north,,,,,,,\n"  # 3 no name
    + "a3,Bo,north,,,de,0612345678,,,\n"  # 4 language, phone
    + 'a4,Cy,north,,,,,"deaf in one ear\nepileptic",d4,\n'  # 5-6 good, two physical lines
    + "a5,Di,west,,,,,,,\n"  # 7 unknown tenant
    + "a6,Ed,north,,,,,,d1,sip:x@pbx.example\n"  # 8 device id again
    + "a7,Fa,north,,,,,,d7,sip:D1@pbx.EXAMPLE\n"  # 9 SIP URI again
    + "a8,Gu,north,,,,,,,sip:a8@pbx.example\n"  # 10 SIP URI without device
    + "a1,Ana López,north,lyon,night,fr,+33612345678,,d9,\n"  # 11 a1 with another name
    + "a9,Hu,north\n"  # 12 too few cells
    + "\n"  # 13 blank: skipped
    + "a10,Io,north,,,en,,,d10,sips:io@pbx.example\n"  # 14 good
)


def test_mixed_file_reports_each_bad_row_by_line_column_and_reason() -> None:
    result = plan(MIXED)
    assert errors(result) == [
        (3, "name", "required; the cell is empty"),
        (4, "language", "unknown language 'de'; expected one of fr, en"),
        (
            4,
            "phone",
            "expected an international number such as +33612345678, got '0612345678'",
        ),
        (7, "tenant", "no tenant 'west'; create it first"),
        (8, "device_id", "device 'd1' is already on line 2"),
        (9, "sip_uri", "sip:D1@pbx.example is already on line 2"),
        (10, "sip_uri", "needs a device_id"),
        (11, "agent_id", "agent 'a1' is on line 2 with another name"),
        (12, None, "3 cells, but the header on line 1 has 10"),
    ]
    assert result.rows == 11 and result.bad_lines == 8
    assert [a.id for a in result.new_agents] == ["a1", "a4", "a10"]
    first = result.new_agents[0]
    assert (first.phone, first.site, first.language) == ("+33612345678", "lyon", "fr")
    assert result.new_agents[1].safety_notes == "deaf in one ear\nepileptic"
    assert [(d.id, d.sip_uri, d.tenant, d.site) for d in result.new_devices] == [
        ("d1", "sip:D1@pbx.example", "north", "lyon"),
        ("d4", None, "north", None),
        ("d10", "sips:io@pbx.example", "north", None),
    ]


def test_same_file_again_changes_nothing() -> None:
    good = HEADER + "a1,Ana,north,lyon,,fr,,,d1,sip:a1@pbx.example\na1,Ana,north,lyon,,fr,,,d2,\n"
    first = plan(good)
    assert (first.agent_counts.created, first.device_counts.created) == (1, 2)
    again = plan(good, applied(first))
    assert again.errors == ()
    assert (again.agent_counts.unchanged, again.device_counts.unchanged) == (1, 2)
    assert again.new_agents == again.changed_agents == ()
    assert again.new_devices == again.changed_devices == ()


def test_changed_cells_update_and_an_empty_cell_clears() -> None:
    before = applied(plan(HEADER + "a1,Ana,north,lyon,day,fr,+33612345678,,d1,\n"))
    result = plan(HEADER + "a1,Ana,north,paris,day,,+33612345678,,d1,\n", before)
    assert result.changed_agents == (
        Agent("a1", "Ana", "north", "paris", "day", None, "+33612345678"),
    )
    assert result.changed_devices == (
        DeviceEntry("d1", "a1", None, None, None, "north", "paris", "day"),
    )


def test_licences_count_existing_and_new_devices_and_refuse_the_excess() -> None:
    before = applied(plan(HEADER + "a1,Ana,south,,,,,,d1,\n"))
    rows = "".join(f"b{i},B{i},south,,,,,,e{i},\n" for i in range(3))
    result = plan(HEADER + "a1,Ana,south,,,,,,d1,\n" + rows, before)
    refusal = "tenant 'south' has 2 licences, all in use"
    assert errors(result) == [(4, "device_id", refusal), (5, "device_id", refusal)]
    assert [d.id for d in result.new_devices] == ["e0"]
    assert result.device_counts.unchanged == 1


def test_revoked_devices_free_their_licence_and_moves_are_counted() -> None:
    agent = Agent("a1", "Ana", "south")
    revoked = KnownDevice(DeviceEntry.of("d1", agent), active=False)
    north = Agent("n1", "Nils", "north")
    moving = KnownDevice(DeviceEntry.of("m1", north), active=True)
    before = Snapshot(
        {"north": None, "south": 2},
        {"south": 1, "north": 1},
        {"a1": agent, "n1": north},
        {"d1": revoked, "m1": moving},
    )
    # d1 (revoked) keeps no licence; m1 moves north -> south and takes the second
    result = plan(
        HEADER + "a1,Ana,south,,,,,,d1,\na1,Ana,south,,,,,,m1,\na1,Ana,south,,,,,,x,\n", before
    )
    assert errors(result) == [(4, "device_id", "tenant 'south' has 2 licences, all in use")]
    assert [d.id for d in result.changed_devices] == ["m1"]


def test_an_agent_keeps_their_tenant_and_admins_keep_to_theirs() -> None:
    before = applied(plan(HEADER + "a1,Ana,north,,,,,,d1,\n"))
    moved = plan(HEADER + "a1,Ana,south,,,,,,,\n", before)
    assert errors(moved) == [
        (2, "tenant", "agent 'a1' belongs to 'north'; an agent does not change tenant")
    ]
    scoped = plan(HEADER + "a1,Ana,north,,,,,,,\nb1,Bo,south,,,,,,d1,\n", before, {"south"})
    assert errors(scoped) == [
        (2, "tenant", "tenant 'north' is not one of your tenants"),
        (3, "device_id", "device 'd1' belongs to another tenant"),
    ]


def test_a_sip_uri_held_by_another_device_is_refused() -> None:
    before = applied(plan(HEADER + "a1,Ana,north,,,,,,d1,sip:ana@pbx.example\n"))
    result = plan(HEADER + "a2,Bo,north,,,,,,d2,SIP:ana@PBX.example\n", before)
    assert errors(result) == [
        (2, "sip_uri", "sip:ana@pbx.example is the SIP identity of another device")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [(1, None, "empty file: the first line must name the columns")]),
        (
            "agent_id,name,colour\n",
            [
                (
                    1,
                    "colour",
                    "unknown column; expected some of "
                    + HEADER.strip().replace(",", ", ")
                    + ", label, dc09_account",
                ),
                (1, "tenant", "required column missing from the header"),
            ],
        ),
        ("agent_id,name,tenant,name\n", [(1, "name", "column named twice")]),
        (
            'agent_id,name,tenant\n"a1,Ana,north\n',
            [(2, None, "unreadable CSV: unexpected end of data")],
        ),
    ],
)
def test_file_shape_errors(text: str, expected: list[tuple[int, str | None, str]]) -> None:
    assert errors(plan(text)) == expected


def test_a_minimal_header_and_a_byte_order_mark_are_accepted() -> None:
    result = plan("\ufeffAgent_ID,Name,Tenant\r\na1,Ana,north\r\n")
    assert result.errors == () and result.new_agents == (Agent("a1", "Ana", "north"),)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0033 6.12.34.56.78", "+33612345678"),
        ("+1 (555) 010-9999", "+15550109999"),
    ],
)
def test_phones_are_stored_in_e164(raw: str, stored: str) -> None:
    assert check_phone(raw) == stored


@pytest.mark.parametrize(
    "raw", ["sip:a@b.example:5060", "sip:b.example", "tel:+33612", "sip:a b@c"]
)
def test_sip_uris_must_name_user_and_host_only(raw: str) -> None:
    with pytest.raises(ValueError, match=r"expected a SIP URI such as sip:agent42@example\.org"):
        check_sip_uri(raw)


def test_errors_come_sorted_by_line() -> None:
    result = plan(HEADER + "a1,,north,,,,,,d1,\na2,Bo,north,,,,,,d1,\n")
    assert result.errors == (
        RowError(2, "name", "required; the cell is empty"),
        RowError(3, "device_id", "device 'd1' is already on line 2"),
    )
