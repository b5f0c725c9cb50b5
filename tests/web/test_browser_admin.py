"""The admin pages in headless Chromium: what an admin enters reaches the operator.

One browser and one gateway for the module, so the pages cost about a second each.
Set GW_SCREENSHOTS=<dir> to keep screenshots of the main admin pages.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, FilePayload, Page, async_playwright, expect

from gateway.api.keys import STORE
from gateway.app import make_app
from gateway.auth import hash_password, token_hash
from gateway.config.schema import (
    DialplanSection,
    GatewaySection,
    Settings,
    SpeechSection,
    VoiceSection,
)
from gateway.store.records import Role
from tests.conftest import PASSWORD, free_port
from tests.web.conftest import CHROMIUM, Gateway
from tests.web.test_browser import MISSING_STRINGS, log_in, raise_alarm

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]
SHOTS = os.environ.get("GW_SCREENSHOTS")
REFUSED = "Failed to load resource: the server responded with a status of {} (Unprocessable Entity)"
DIABETIC = "Diabetic: ask whether they have eaten; sugar is in the left pocket"
HOSTILE = '<img src=x onerror="window.pwned=1">'  # shown as text, never run


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gateway(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Gateway]:
    """A gateway with an admin, an operator and one phone."""
    settings = Settings(
        gateway=GatewaySection(data_dir=tmp_path_factory.mktemp("admin") / "data"),
        voice=VoiceSection(enabled=False),
        speech=SpeechSection(enabled=False),
        dialplan=DialplanSection(enabled=False),
    )
    app = make_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    store, now = app[STORE], datetime.now(UTC)
    await store.add_device("phone-1", token_hash("device-token-1"), now)
    await store.add_device("phone-2", token_hash("device-token-2"), now, site="lyon")
    await store.add_device("phone-3", token_hash("device-token-3"), now)
    hashed = hash_password(PASSWORD)
    for role in (Role.OPERATOR, Role.ADMIN):
        await store.add_user(f"{role.value}-1", role, hashed, now)
    try:
        yield Gateway(f"http://127.0.0.1:{port}", app)
    finally:
        await runner.cleanup()


@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package chromium")
    return CHROMIUM


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"], timeout=30_000
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def admin_session(
    gateway: Gateway, browser: Browser
) -> AsyncIterator[tuple[Page, list[str]]]:
    """One admin login for the module: logging in costs a password hash."""
    errors: list[str] = []
    page = await log_in(browser, gateway, "admin-1", "/admin", errors)
    try:
        yield page, errors
    finally:
        await page.context.close()


@pytest_asyncio.fixture(loop_scope="module")
async def admin(admin_session: tuple[Page, list[str]]) -> tuple[Page, list[str]]:
    """The admin's page in English, and the errors it raises (CSP violations included)."""
    page, errors = admin_session
    await page.select_option("#lang", "en")
    errors.clear()
    return page, errors


async def shoot(page: Page, name: str) -> None:
    if SHOTS is not None:
        await page.screenshot(path=str(Path(SHOTS) / name), full_page=True)


async def operator_get(gw: Gateway, path: str) -> Any:
    """``path`` as the operator sees it through the API."""
    async with aiohttp.ClientSession() as http:
        login = await http.post(
            f"{gw.url}/api/v1/sessions", json={"name": "operator-1", "password": PASSWORD}
        )
        token = (await login.json())["token"]
        answer = await http.get(f"{gw.url}{path}", headers={"Authorization": f"Bearer {token}"})
        assert answer.status == 200, await answer.text()
        return await answer.json()


async def alarm_from(gw: Gateway, token: str) -> tuple[int, str]:
    """A fall alarm raised with ``token``: the answer's status and the alarm's id."""
    body = {"type": "fall", "occurred_at": datetime.now(UTC).isoformat()}
    async with aiohttp.ClientSession() as http:
        answer = await http.post(
            f"{gw.url}/api/v1/alarms", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        return answer.status, str((await answer.json()).get("id"))


async def test_instructions_and_contacts_entered_by_an_admin_brief_the_operator(
    gateway: Gateway, admin: tuple[Page, list[str]]
) -> None:
    page, errors = admin
    assert await page.evaluate(MISSING_STRINGS) == []
    form = page.locator("#instruction-form")
    await form.locator("[name=text]").fill(DIABETIC)
    await form.locator("[name=device_id]").fill("phone-1")
    await form.locator("input[value=fall]").check()
    await form.locator("button[type=submit]").click()
    rows = page.locator("#instruction-list tbody tr")
    await expect(rows.first.locator("td")).to_have_text(
        ["Device: phone-1", "Fall", DIABETIC, "Delete"]
    )
    await shoot(page, "admin-instructions.png")
    await form.locator("[name=text]").fill(HOSTILE)  # for everyone, every alarm type
    await form.locator("button[type=submit]").click()
    await expect(rows.nth(1).locator("td")).to_have_text(
        ["everyone", "all types", HOSTILE, "Delete"]
    )

    await page.click('#tabs a[href="#contacts"]')
    form = page.locator("#contact-form")
    await form.locator("[name=name]").fill("Ana")
    await form.locator("[name=role]").fill("site manager")
    await form.locator("[name=phone]").fill("+33 6 12 34 56 78")
    await form.locator("[name=hours]").fill("mon-sun 00:00-23:59")
    await form.locator("[name=rank]").fill("2")
    await form.locator("[name=site]").fill("lyon")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#contact-list tbody td")).to_have_text(
        [
            "2",
            "Ana (site manager)",
            "+33 6 12 34 56 78",
            "mon,tue,wed,thu,fri,sat,sun 00:00-23:59 (Europe/Paris)",
            "Site: lyon",
            "Delete",
        ]
    )
    await shoot(page, "admin-contacts.png")
    await form.locator("[name=name]").fill("Nobody")  # no way to reach them: refused, named
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#error")).to_contain_text(
        "give at least one of phone, sip_uri or webhook_url"
    )

    # phone-1's fall alarm gets the instruction; the contact is for the Lyon phone only
    alarm_id = await raise_alarm(gateway, "fall")
    briefing = await operator_get(gateway, f"/api/v1/alarms/{alarm_id}/briefing")
    assert [i["text"] for i in briefing["instructions"]] == [DIABETIC, HOSTILE]
    assert briefing["contacts"] == []
    _, alarm_id = await alarm_from(gateway, "device-token-2")
    briefing = await operator_get(gateway, f"/api/v1/alarms/{alarm_id}/briefing")
    assert [i["text"] for i in briefing["instructions"]] == [HOSTILE]
    assert [(c["name"], c["rank"]) for c in briefing["contacts"]] == [("Ana", 2)]

    await page.select_option("#lang", "fr")
    await expect(page.locator("#contact-list thead")).to_contain_text("Rang")
    await page.click('#tabs a[href="#instructions"]')
    await expect(page.locator("#instruction-list tbody td").first).to_have_text(
        "Terminal : phone-1"
    )
    delete = page.locator("#instruction-list tbody button").first
    await delete.click()
    await expect(delete).to_have_text("Cliquez encore pour confirmer")
    await delete.click()
    await expect(rows.locator("td").first).to_have_text("tous")
    assert await page.evaluate("window.pwned") is None
    assert errors == [REFUSED.format(422)]  # the unreachable contact, and nothing else


async def test_a_rotated_token_is_shown_once_and_a_revoked_device_refused(
    gateway: Gateway, admin: tuple[Page, list[str]]
) -> None:
    page, errors = admin
    await page.click('#tabs a[href="#devices"]')
    form = page.locator("#device-token-form")
    await form.locator("[name=device]").fill("phone-3")
    await form.locator("button[value=rotate]").click()
    box = page.locator("#secret")
    await expect(box).to_be_visible()
    token = await box.locator("input").input_value()
    assert len(token) >= 32
    await box.locator("button[type=submit]").click()
    await expect(box).to_be_hidden()
    await expect(page.locator("#secret input")).to_have_count(0)  # forgotten with the box
    assert (await alarm_from(gateway, "device-token-3"))[0] == 401
    assert (await alarm_from(gateway, token))[0] == 201
    revoke = form.locator("button[value=revoke]")
    await revoke.click()
    await expect(revoke).to_have_text("Click again to confirm")
    assert (await alarm_from(gateway, token))[0] == 201  # not yet
    await revoke.click()
    await expect(page.locator("#done")).to_have_text("Revoked: phone-3")
    row = page.locator("#device-list tbody tr", has_text="phone-3")
    await expect(row.locator("td").nth(5)).to_have_text("Revoked")
    await expect(row.locator("button")).to_have_count(0)
    assert (await alarm_from(gateway, token))[0] == 401
    assert errors == []


async def test_an_operator_is_refused_the_admin_page_and_its_api(
    gateway: Gateway, browser: Browser
) -> None:
    errors: list[str] = []
    page = await log_in(browser, gateway, "operator-1", "/console", errors)
    answer = await page.goto(f"{gateway.url}/admin")
    assert answer is not None
    assert answer.status == 403
    assert "this needs the role admin; you are operator" in await page.content()
    status = await page.evaluate(
        """async () => (await fetch("/api/v1/instructions", {method: "POST",
             headers: {"Content-Type": "application/json", "X-CSRF-Token": gw_csrf()},
             body: JSON.stringify({text: "x"})})).status""".replace(
            "gw_csrf()", "document.cookie.match(/gw_csrf=([^;]+)/)[1]"
        )
    )
    assert status == 403
    await page.context.close()


AGENTS_CSV = """agent_id,name,tenant,site,phone,device_id,label
a1,Ana Martin,acme,lyon,+33 6 12 34 56 78,phone-a1,Ana's phone
a2,Bob <b>Durand</b>,acme,lyon,12,phone-a2,
a3,Chloé Petit,acme,paris,,phone-a3,
"""


async def test_a_csv_import_is_checked_row_by_row_then_the_good_rows_imported(
    gateway: Gateway, admin: tuple[Page, list[str]]
) -> None:
    page, errors = admin
    await page.click('#tabs a[href="#tenants"]')
    form = page.locator("#tenant-form")
    await form.locator("[name=name]").fill("acme")
    await form.locator("[name=licences]").fill("5")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#tenant-list tbody td")).to_have_text(
        ["acme", "no", "0 / 5", "0", "", "", "Edit"]
    )

    await page.click('#tabs a[href="#import"]')
    form = page.locator("#import-form")
    csv_file = FilePayload(name="agents.csv", mimeType="text/csv", buffer=AGENTS_CSV.encode())
    await form.locator("[name=file]").set_input_files(csv_file)
    await form.locator("button[value=validate]").click()
    await expect(page.locator("#import-errors tbody tr")).to_have_count(1)
    await expect(page.locator("#import-errors tbody td")).to_have_text(
        ["3", "phone", "expected an international number such as +33612345678, got '12'"]
    )
    await expect(page.locator("#import-summary")).to_contain_text("Checked; nothing written.")
    await shoot(page, "admin-import.png")
    assert await gateway.app[STORE].agents(None) == []

    await form.locator("button[value=import]").click()  # all or nothing: refused
    await expect(page.locator("#import-summary")).to_contain_text("Nothing imported")
    assert await gateway.app[STORE].agents(None) == []

    await form.locator("[name=partial]").check()
    await form.locator("button[value=import]").click()
    box = page.locator("#secret")
    await expect(box).to_be_visible()
    await expect(box.locator("tbody tr")).to_have_count(2)
    await expect(box.locator("tbody td").first).to_have_text("phone-a1")
    await expect(page.locator("#import-summary")).to_contain_text(
        "Agents: created 2, updated 0, unchanged 0 · Devices: created 2"
    )
    await box.locator("button[type=submit]").click()
    await expect(page.locator("#secret input")).to_have_count(0)
    await page.click('#tabs a[href="#agents"]')
    await expect(page.locator("#agent-list tbody tr")).to_have_count(2)
    await expect(page.locator("#agent-list tbody tr").first).to_contain_text("Ana Martin")
    assert errors == [REFUSED.format(422)]  # the import refused whole


async def test_staff_accounts_and_the_audit_chain(
    gateway: Gateway, admin: tuple[Page, list[str]]
) -> None:
    page, errors = admin
    await gateway.app[STORE].add_tenant("north", datetime.now(UTC))
    await page.click('#tabs a[href="#users"]')
    form = page.locator("#user-form")
    await form.locator("[name=name]").fill("sam")
    await form.locator("[name=role]").select_option("supervisor")
    await form.locator("[name=password]").fill("long enough secret")
    await form.locator("button[type=submit]").click()
    row = page.locator("#user-list tbody tr", has_text="sam")
    await expect(row.locator("td")).to_have_text(
        ["sam", "Supervisor", "all (centre-wide)", "active", "Set organisations Disable"]
    )
    await row.locator("button", has_text="Set organisations").click()
    await expect(form.locator("[name=password]")).to_be_disabled()
    await form.locator("[name=tenants]").fill("north")
    await form.locator("button[type=submit]").click()
    await expect(row.locator("td").nth(2)).to_have_text("north")
    disable = row.locator("button.danger")
    await disable.click()
    await disable.click()
    await expect(row.locator("td").nth(3)).to_have_text("disabled")
    await shoot(page, "admin-users.png")

    await page.click('#tabs a[href="#audit"]')
    await page.click("#verify")
    await expect(page.locator("#verify-result")).to_contain_text("The chain is intact")
    actions = [e.action for e in await gateway.app[STORE].audit_entries()]
    assert actions[-3:] == ["admin.user.create", "admin.user.tenants", "admin.user.disable"]
    assert errors == []


async def test_an_agent_is_added_and_edited_then_given_a_device_whose_secrets_show_once(
    gateway: Gateway, admin: tuple[Page, list[str]]
) -> None:
    page, errors = admin
    await gateway.app[STORE].add_tenant("zeta", datetime.now(UTC))
    await page.click('#tabs a[href="#agents"]')
    form = page.locator("#agent-form")
    for name, value in (("id", "z1"), ("name", "Zoé"), ("tenant", "zeta"), ("site", "lyon")):
        await form.locator(f"[name={name}]").fill(value)
    await form.locator("[name=language]").select_option("fr")
    await form.locator("button[type=submit]").click()
    row = page.locator("#agent-list tbody tr", has_text="z1")
    await expect(row.locator("td").nth(2)).to_have_text("Organisation: zeta · Site: lyon")
    await row.locator("button", has_text="Edit").click()
    await expect(form.locator("[name=tenant]")).to_have_attribute("readonly", "")
    await form.locator("[name=site]").fill("nice")
    await form.locator("[name=safety_notes]").fill("Works alone at night")
    await form.locator("button[type=submit]").click()
    await expect(row.locator("td").nth(2)).to_have_text("Organisation: zeta · Site: nice")
    await expect(row.locator("td").nth(5)).to_have_text("Works alone at night")

    await page.click('#tabs a[href="#devices"]')
    form = page.locator("#device-form")
    await form.locator("[name=id]").fill("phone-z1")
    await form.locator("[name=agent_id]").fill("z1")
    await form.locator("button[type=submit]").click()
    box = page.locator("#secret")
    await expect(box.locator("dt")).to_have_text(
        ["Device token", "SIP user name", "SIP password", "SIP realm"]
    )
    token = await box.locator("input").first.input_value()
    await shoot(page, "admin-device-secrets.png")
    await box.locator("button[type=submit]").click()
    await expect(page.locator("#secret input")).to_have_count(0)
    assert (await alarm_from(gateway, token))[0] == 201
    row = page.locator("#device-list tbody tr", has_text="phone-z1")
    await expect(row.locator("td").nth(3)).to_have_text("Organisation: zeta · Site: nice")
    sip = row.locator("button").nth(1)
    await sip.click()
    await expect(sip).to_have_text("Click again to confirm")
    await sip.click()
    await expect(box.locator("dt")).to_have_text(["SIP user name", "SIP password", "SIP realm"])
    await box.press("Escape")  # closing by the keyboard forgets them too
    await expect(page.locator("#secret input")).to_have_count(0)

    # right of access, then erasure: the alarm stays, the person goes
    await page.click('#tabs a[href="#agents"]')
    row = page.locator("#agent-list tbody tr", has_text="z1")
    await row.locator("button").nth(1).click()
    await expect(page.locator("#personal-data")).to_contain_text('"safety_notes": "Works alone')
    await expect(page.locator("#personal-data")).to_contain_text('"type": "fall"')
    erase = row.locator("button").nth(2)
    await erase.click()
    await erase.click()
    await expect(page.locator("#done")).to_contain_text("Personal data erased")
    await expect(page.locator("#done")).to_contain_text("Alarms: 1")
    await expect(page.locator("#personal")).to_be_hidden()
    await expect(page.locator("#personal-data")).to_be_empty()
    await expect(row.locator("td").nth(5)).to_have_text("\u2013")  # the notes are gone
    agent = await gateway.app[STORE].agent("z1")
    assert agent is not None
    assert (agent.phone, agent.safety_notes) == (None, None)
    assert "Zoé" not in agent.name
    assert errors == []
