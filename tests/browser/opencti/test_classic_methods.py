"""Every sforce.interaction method, from the Classic test softphone in the console's panel:
positional arguments, {result, error}, JSON strings where the guide says so, listeners,
version gating, bad arguments answered (never thrown)."""

from __future__ import annotations

import itertools
import json
import sys
from typing import Any

import pytest
from playwright.sync_api import expect

lib = sys.modules["ctikit_browser_harness_lib"]
_n = itertools.count(1)


class Phone:
    def __init__(self, page: Any, server: Any) -> None:
        self.page, self.server = page, server
        self.agent = f"occ{next(_n)}"
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        server.login(page.context, self.agent)
        page.goto(f"{server.url}/console?agent={self.agent}")
        self.frame = lib.find_frame(page, lambda url: "/opencti/classic.html" in url)
        lib.wait_until(lambda: self.frame.evaluate("window.SP && SP.ready"), page)

    def cx(self, path: str, *args: Any) -> Any:
        return self.frame.evaluate("([p, a]) => SP.cx(p, a)", [path, list(args)])

    def log(self, what: str) -> list[Any]:
        return [e["value"] for e in self.frame.evaluate("SP.log") if e["what"] == what]


@pytest.fixture
def phone(oc_servers: Any, oc_context: Any) -> Phone:
    return Phone(oc_context.new_page(), oc_servers["classic"])


def test_console_and_panel(phone: Phone) -> None:
    assert phone.cx("isInConsole") == {"result": True}
    assert phone.cx("isVisible") == {"result": True}
    assert phone.cx("setVisible", False) == {"result": True}
    expect(phone.page.get_by_test_id("softphone-frame")).to_be_hidden()
    assert phone.cx("isVisible") == {"result": False}
    assert phone.cx("setVisible", True) == {"result": True}
    assert phone.cx("cti.setSoftphoneHeight", 300) == {"result": True}
    assert phone.page.get_by_test_id("softphone-frame").evaluate("f => f.style.height") == "300px"
    assert phone.cx("cti.setSoftphoneWidth", 250) == {"result": True}
    assert phone.cx("cti.setSoftphoneHeight", 10)["error"].startswith("height must be")
    assert phone.cx("setVisible", "yes")["result"] is None


def test_json_string_results(phone: Phone) -> None:
    settings = phone.cx("cti.getCallCenterSettings")["result"]
    assert isinstance(settings, str)
    assert json.loads(settings)["/reqGeneralInfo/reqInternalName"] == "AcmeAdapter"
    layout = phone.cx("cti.getSoftphoneLayout")["result"]
    assert list(json.loads(layout)["Inbound"]["objects"]) == ["Contact", "Account"]
    numbers = phone.cx("cti.getDirectoryNumbers")["result"]
    assert json.loads(numbers) == []
    info = phone.cx("getPageInfo")["result"]
    assert json.loads(info)["url"].endswith(f"/console?agent={phone.agent}")
    found = phone.cx("searchAndGetScreenPopUrl", "+14155550100", "", "inbound")["result"]
    assert list(json.loads(found)) == ["003A000001"]
    expect(phone.page.get_by_test_id("primary-tabs").get_by_role("tab")).to_have_count(0)
    found = phone.cx("searchAndScreenPop", "+14155550100", "", "inbound")["result"]
    assert json.loads(found)["003A000001"]["Name"] == "Ada Lovelace"
    expect(phone.page.get_by_test_id("primary-tabs").get_by_role("tab")).to_have_count(1)
    page_info = json.loads(phone.cx("getPageInfo")["result"])
    assert page_info["objectId"] == "003A000001" and page_info["object"] == "Contact"


def test_save_log_and_screen_pop(phone: Phone, crm: Any) -> None:
    out = phone.cx("saveLog", "Task", "Subject=Hello%20there&Priority=High&CallType=Outbound")
    assert out["result"] is True and out["id"].startswith("log_")
    stored = phone.server.run(phone.server.store.get(out["id"]))
    assert stored.subject == "Hello there" and stored.call_type == "OUTBOUND"
    assert stored.attached_data["openCti"] == {
        "entityApiName": "Task",
        "fields": {"Subject": "Hello there", "Priority": "High", "CallType": "Outbound"},
    }
    again = phone.cx("saveLog", "Task", f"Id={out['id']}&Description=done")
    assert again == {"result": True, "id": out["id"]}
    # A Salesforce-relative URL opens on the record site.
    assert phone.cx("screenPop", "/003A000001", True) == {"result": True}
    lib.find_frame(phone.page, lambda url: url.startswith(crm.url + "/003A000001"))
    assert phone.cx("refreshPage") == {"result": True}
    assert phone.cx("refreshRelatedList", "Cases") == {"result": True}
    assert phone.cx("screenPop", "", True)["error"].startswith("url must be")
    assert phone.cx("screenPop", "/x")["error"].startswith("missing arguments")
    assert phone.cx("saveLog", "Task", {"Subject": "x"})["error"].startswith("saveParams must be")


def test_run_apex(phone: Phone) -> None:
    out = phone.cx("runApex", "AcmeCti", "lookup", "a=1")
    assert out == {"result": {"echo": "a=1", "class": "AcmeCti"}}
    assert "HTTP 500" in phone.cx("runApex", "AcmeCti", "fail", "")["error"]


def test_listeners(phone: Phone, crm: Any) -> None:
    phone.frame.evaluate("SP.incoming('+14155550188')")
    phone.page.get_by_test_id("lines").locator("[data-dial-number='+14155550188']").click()
    assert lib.wait_until(lambda: phone.log("onClickToDial"), phone.page) == [
        {"number": "+14155550188", "recordId": None, "recordName": None, "objectType": None}
    ]
    assert phone.cx("cti.disableClickToDial") == {"result": True}
    phone.cx("screenPop", crm.url + "/x", True)
    focus = lib.wait_until(lambda: phone.log("onFocus"), phone.page)
    assert focus[-1]["url"] == crm.url + "/x"


def test_hostile_arguments_never_throw(phone: Phone) -> None:
    f = phone.frame
    f.evaluate("sforce.interaction.screenPop('/003A000001', true, undefined)")
    f.evaluate("sforce.interaction.cti.enableClickToDial()")
    f.evaluate("sforce.interaction.saveLog()")
    f.evaluate("sforce.interaction.cti.onClickToDial(42)")
    f.evaluate("sforce.interaction.cti.setSoftphoneHeight('tall', 'not a function')")
    early = f.evaluate(
        "() => new Promise((d) => sforce.interaction.saveLog((r) => d(r)))"
    )  # the callback too early
    assert early["result"] is None and "missing arguments" in early["error"]
    assert phone.errors == []


def test_the_api_version_selects_the_members(oc_servers: Any, oc_context: Any) -> None:
    server = oc_servers["classic"]
    page = oc_context.new_page()
    page.goto(f"{server.component_url}/opencti/classic.html?v=27&cti=0")
    page.wait_for_function("() => window.sforce && sforce.interaction && sforce.interaction.cti")
    assert page.evaluate("typeof sforce.interaction.searchAndGetScreenPopUrl") == "undefined"
    assert page.evaluate("typeof sforce.interaction.cti.setSoftphoneWidth") == "undefined"
    assert (
        page.evaluate("typeof sforce.interaction.cti.notifyInitializationComplete") == "undefined"
    )
    page.goto(f"{server.component_url}/opencti/classic.html?v=32&cti=0")
    page.wait_for_function("() => window.sforce && sforce.interaction && sforce.interaction.cti")
    assert page.evaluate("typeof sforce.interaction.searchAndGetScreenPopUrl") == "function"
    assert page.evaluate("typeof sforce.interaction.cti.notifyInitializationComplete") == "function"
    out = page.evaluate("() => new Promise((d) => sforce.interaction.isVisible(d))")
    assert out == {"result": None, "error": "not in console"}
