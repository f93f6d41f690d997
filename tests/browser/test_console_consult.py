"""Consult transfer from the softphone buttons: consult then complete, consult then cancel."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from .test_console_softphone import (
    component,
    console,  # noqa: F401 - the fixture
    last_cti_message,
    simulate,
)

TARGET = "+14155550123"  # the simulator's far end answers after far_end_answer


def consult_row(page: Any, ctikit_server: Any, agent: str, soft: Any) -> tuple[Any, Any]:
    """A simulated call answered, then a consult to TARGET answered: (held row, consult row)."""
    call_id = simulate(ctikit_server, agent, ani="+14155550111")
    row = page.get_by_test_id(f"line-{call_id}")
    row.get_by_test_id("btn-answer").click()
    expect(row).to_have_attribute("data-state", "connected")
    row.get_by_test_id("btn-consult").click()
    expect(row.get_by_test_id("btn-consult")).to_have_attribute("aria-expanded", "true")
    row.get_by_test_id("consult-input").fill(TARGET)
    row.get_by_test_id("consult-confirm").click()
    expect(last_cti_message(soft)).to_have_text(f"/CONSULT?NUMBER=%2B14155550123&CALL_ID={call_id}")
    expect(row).to_have_attribute("data-state", "held")
    expect(row.get_by_test_id("btn-consult")).to_be_hidden()  # one consult at a time
    consult = page.locator(f'.line:not([data-call-id="{call_id}"])')
    expect(consult.get_by_test_id("line-consult")).to_have_text("Consult for +1 415-555-0111")
    expect(consult).to_have_attribute("data-state", "connected")  # the target answered
    return row, consult


def test_consult_then_complete_then_consult_then_cancel(
    console: Any,  # noqa: F811
    ctikit_server: Any,
    agent: str,
) -> None:
    page = console
    soft = component(page, "custom-softphone")

    row, consult = consult_row(page, ctikit_server, agent, soft)
    consult_id = consult.get_attribute("data-call-id")
    consult.get_by_test_id("btn-complete-transfer").click()
    expect(last_cti_message(soft)).to_have_text(f"/COMPLETE_TRANSFER?CALL_ID={consult_id}")
    expect(page.get_by_test_id("consult-outcome")).to_contain_text(f"Transferred to {TARGET}")
    expect(page.locator(".line")).to_have_count(0)  # both calls left the agent

    row, consult = consult_row(page, ctikit_server, agent, soft)
    consult_id = consult.get_attribute("data-call-id")
    expect(consult.get_by_test_id("btn-conference")).to_be_visible()
    consult.get_by_test_id("btn-cancel-consult").click()
    expect(last_cti_message(soft)).to_have_text(f"/CANCEL_CONSULT?CALL_ID={consult_id}")
    expect(page.get_by_test_id("consult-outcome")).to_contain_text("back to the caller")
    expect(page.locator(".line")).to_have_count(1)
    expect(row).to_have_attribute("data-state", "connected")
    expect(row.get_by_test_id("btn-consult")).to_be_visible()
    assert page.page_errors == []


def test_a_consult_that_fails_says_why_and_the_caller_stays_held(
    console: Any,  # noqa: F811
    ctikit_server: Any,
    agent: str,
) -> None:
    page = console
    call_id = simulate(ctikit_server, agent, ani="+14155550112")
    row = page.get_by_test_id(f"line-{call_id}")
    row.get_by_test_id("btn-answer").click()
    expect(row).to_have_attribute("data-state", "connected")
    row.get_by_test_id("btn-consult").click()
    row.get_by_test_id("consult-input").fill("+14155550486")  # the simulator's busy number
    row.get_by_test_id("consult-confirm").click()
    expect(page.get_by_test_id("call-failed")).to_contain_text("failed: the line is busy.")
    expect(page.locator(".line")).to_have_count(1)
    expect(row).to_have_attribute("data-state", "held")
    expect(row.get_by_test_id("btn-retrieve")).to_be_visible()  # the agent goes back
    assert page.page_errors == []
