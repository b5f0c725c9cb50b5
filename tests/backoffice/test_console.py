"""The alarm card shows the briefing: the agent, the instructions, then whom to call."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.async_api import Browser, expect

from gateway.api.keys import STORE
from gateway.backoffice.rules import Contact, Scope, parse_window
from tests.web.conftest import Gateway, browser, chromium_args, gateway, loopback_ice
from tests.web.test_browser import MISSING_STRINGS, log_in, raise_alarm

__all__ = ["browser", "chromium_args", "gateway", "loopback_ice"]
pytestmark = [pytest.mark.integration]


async def test_alarm_card_shows_instructions_then_contacts(
    gateway: Gateway, browser: Browser
) -> None:
    store, now = gateway.app[STORE], datetime.now(UTC)
    await store.add_instruction(Scope(), "Call the agent back first", frozenset(), now)
    await store.add_instruction(Scope(device_id="phone-1"), "Agent is diabetic", frozenset(), now)
    never = parse_window("sun 00:00-00:01")  # off duty almost always
    await store.add_contact(Contact(0, Scope(), "Ana", "manager", "+33 6 12 34 56 78"), now)
    await store.add_contact(
        Contact(0, Scope(), "Bob", None, None, "sip:bob@pbx.example", hours=(never,)), now
    )
    errors: list[str] = []
    page = await log_in(browser, gateway, "operator-1", "/console", errors)
    assert await page.evaluate(MISSING_STRINGS) == []
    alarm_id = await raise_alarm(gateway, "fall")
    await page.locator(f'#queue li[data-id="{alarm_id}"] button', has_text="Open").click()
    instructions = page.locator("#instructions li.instruction")
    await expect(instructions).to_have_text(
        ["agent Agent is diabetic", "everyone Call the agent back first"]
    )
    contacts = page.locator("#contacts li")
    await expect(contacts.nth(0)).to_contain_text("Ana (manager) +33 6 12 34 56 78")
    await expect(contacts.nth(0)).to_contain_text("available now")
    await expect(contacts.nth(0).locator("a")).to_have_attribute("href", "tel:+33612345678")
    await expect(contacts.nth(1).locator("a")).to_have_attribute("href", "sip:bob@pbx.example")
    await expect(page.locator("#instructions li.agent")).to_contain_text("phone-1")
    assert errors == []
