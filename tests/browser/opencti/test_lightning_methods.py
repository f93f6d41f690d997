"""Every sforce.opencti method, from the Lightning test softphone in the console's panel:
documented arguments and result shapes, real effects, listeners, bad arguments answered in
the documented shape (never thrown)."""

from __future__ import annotations

import itertools
import sys
from typing import Any

import pytest
from playwright.sync_api import expect

lib = sys.modules["ctikit_browser_harness_lib"]
_n = itertools.count(1)
OK_NONE = {"success": True, "returnValue": None, "errors": None}


class Phone:
    def __init__(self, page: Any, server: Any) -> None:
        self.page, self.server = page, server
        self.agent = f"ocl{next(_n)}"
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        server.login(page.context, self.agent)
        page.goto(f"{server.url}/console?agent={self.agent}")
        self.frame = lib.find_frame(page, lambda url: "/opencti/lightning.html" in url)
        lib.wait_until(lambda: self.frame.evaluate("window.SP && SP.ready"), page)

    def lx(self, method: str, args: Any = None) -> Any:
        return self.frame.evaluate("([m, a]) => SP.lx(m, a)", [method, args])

    def js(self, source: str) -> Any:
        """Run ``source`` (an expression giving a Promise of the callback's result)."""
        return self.frame.evaluate(f"() => new Promise((done) => {{ {source} }})")

    def log(self, what: str) -> list[Any]:
        return [e["value"] for e in self.frame.evaluate("SP.log") if e["what"] == what]

    def failed(self, out: Any, words: str) -> None:
        assert out["success"] is False and out["returnValue"] is None, out
        assert len(out["errors"]) == 1 and words in out["errors"][0]["description"], out


@pytest.fixture
def phone(oc_servers: Any, oc_context: Any) -> Phone:
    return Phone(oc_context.new_page(), oc_servers["lightning"])


def test_save_log_creates_then_updates(phone: Phone) -> None:
    out = phone.lx("saveLog", {"value": {"entityApiName": "Task", "Subject": "First", "A__c": 1}})
    assert out["success"] is True and out["errors"] is None
    log_id = out["returnValue"]["recordId"]
    out = phone.lx("saveLog", {"value": {"Id": log_id, "Description": "more", "B__c": True}})
    assert out["success"] is True and out["returnValue"]["recordId"] == log_id
    stored = phone.server.run(phone.server.store.get(log_id))
    assert stored.subject == "First" and stored.comments == "more"
    assert stored.attached_data["openCti"]["fields"] == {
        "Subject": "First",
        "A__c": 1,
        "Description": "more",
        "B__c": True,
    }


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({}, "value must be an object"),
        ({"value": "Subject=x"}, "value must be an object"),
        ({"value": {"Subject": {"nested": 1}}}, "value.Subject must be a string"),
        ({"value": {"Id": 42}}, "value.Id must be a non-empty string"),
        ({"value": {"Id": "log_doesnotexist"}}, "no call log"),
        ({"value": {"Subject": "x" * 300}}, "Subject is longer than 255"),
    ],
)
def test_save_log_refuses_bad_records(phone: Phone, args: Any, words: str) -> None:
    phone.failed(phone.lx("saveLog", args), words)


def test_screen_pop_types(phone: Phone, crm: Any) -> None:
    sop = phone.lx(
        "screenPop", {"type": "sobject", "params": {"recordId": "001X", "objectType": "Account"}}
    )
    assert sop == OK_NONE
    tabs = phone.page.get_by_test_id("primary-tabs").get_by_role("tab")
    expect(tabs).to_have_count(1)
    info = phone.lx("getAppViewInfo")
    assert info["success"] is True
    assert info["returnValue"]["recordId"] == "001X"
    assert info["returnValue"]["objectType"] == "Account"
    assert info["returnValue"]["url"] == f"{crm.url}/records/Account/001X"
    assert phone.lx("screenPop", {"type": "url", "params": {"url": crm.url + "/page"}}) == OK_NONE
    expect(tabs).to_have_count(2)
    phone.failed(
        phone.lx("screenPop", {"type": "url", "params": {"url": "https://evil.example/"}}),
        "not an allowed origin",
    )
    phone.failed(
        phone.lx("screenPop", {"type": "url", "params": {"url": "javascript:alert(1)"}}),
        "only http(s)",
    )
    for kind in ("objecthome", "list", "search", "newRecord", "flow"):
        phone.failed(
            phone.lx("screenPop", {"type": kind, "params": {}}), f'"{kind}" has no equivalent'
        )
    phone.failed(phone.lx("screenPop", {"type": "SOBJECTX"}), "SCREENPOP_TYPE")
    phone.failed(phone.lx("screenPop", {"type": "sobject", "params": {}}), "recordId")
    expect(tabs).to_have_count(2)


def test_search_and_screen_pop(phone: Phone, crm: Any) -> None:
    out = phone.lx(
        "searchAndScreenPop",
        {"searchParams": "+14155550100", "callType": "inbound", "deferred": True},
    )
    assert out["success"] is True
    assert out["returnValue"] == {
        "003A000001": {
            "Id": "003A000001",
            "Name": "Ada Lovelace",
            "objectType": "Contact",
            "RecordType": "Contact",
        }
    }
    tabs = phone.page.get_by_test_id("primary-tabs").get_by_role("tab")
    expect(tabs).to_have_count(0)  # deferred: nothing popped
    assert crm.requests[-1]["agent"] == phone.agent and crm.requests[-1]["callType"] == "inbound"
    out = phone.lx("searchAndScreenPop", {"searchParams": "+14155550100", "callType": "INBOUND"})
    assert out["success"] is True
    expect(tabs).to_have_count(1)
    expect(tabs.first).to_have_text("Ada Lovelace")
    out = phone.lx("searchAndScreenPop", {"searchParams": "many"})
    assert len(out["returnValue"]) == 2
    expect(tabs).to_have_count(1)  # several matches: none popped
    phone.failed(phone.lx("searchAndScreenPop", {"searchParams": "broken"}), "did not answer JSON")
    phone.failed(phone.lx("searchAndScreenPop", {"callType": "sideways"}), "CALL_TYPE")
    phone.failed(phone.lx("searchAndScreenPop", {"deferred": "yes"}), "deferred")


def test_panel_methods_change_the_panel(phone: Phone) -> None:
    page = phone.page
    panel = page.get_by_test_id("softphone-panel")
    assert phone.lx("isSoftphonePanelVisible") == {
        "success": True,
        "returnValue": {"visible": True},
        "errors": None,
    }
    assert phone.lx("setSoftphonePanelVisibility", {"visible": False}) == OK_NONE
    expect(page.get_by_test_id("softphone-frame")).to_be_hidden()
    expect(page.get_by_test_id("softphone-panel-toggle")).to_have_attribute(
        "aria-expanded", "false"
    )
    assert phone.lx("isSoftphonePanelVisible")["returnValue"] == {"visible": False}
    page.get_by_test_id("softphone-panel-toggle").click()  # the agent opens it again
    assert phone.lx("isSoftphonePanelVisible")["returnValue"] == {"visible": True}
    assert phone.lx("setSoftphonePanelHeight", {"heightPX": 500}) == OK_NONE
    assert page.get_by_test_id("softphone-frame").evaluate("f => f.style.height") == "500px"
    assert phone.lx("setSoftphonePanelWidth", {"widthPX": 350}) == OK_NONE
    expect(panel).to_have_attribute("data-width", "350")
    phone.failed(phone.lx("setSoftphonePanelHeight", {"heightPX": 100}), "240 to 2560")
    phone.failed(phone.lx("setSoftphonePanelWidth", {"widthPX": "wide"}), "200 to 1920")
    phone.failed(phone.lx("setSoftphonePanelVisibility", {"visible": "no"}), "visible must be")
    assert phone.lx("setSoftphonePanelLabel", {"label": "<b>Acme</b> 2"}) == OK_NONE
    expect(page.get_by_test_id("softphone-panel-label")).to_have_text("<b>Acme</b> 2")
    assert phone.lx("setSoftphonePanelIcon", {"key": "call"}) == OK_NONE
    expect(panel).to_have_attribute("data-icon", "call")
    assert phone.lx("setSoftphoneItemLabel", {"label": "Phone (1)"}) == OK_NONE
    expect(page.get_by_test_id("softphone-panel-toggle")).to_have_text("Phone (1)")
    assert phone.lx("setSoftphoneItemIcon", {"key": "missed_call"}) == OK_NONE
    expect(page.get_by_test_id("softphone-panel-toggle")).to_have_attribute(
        "data-icon", "missed_call"
    )
    phone.failed(phone.lx("setSoftphonePanelLabel", {"label": 7}), "label must be a string")


def test_settings_and_layout(phone: Phone) -> None:
    settings = phone.lx("getCallCenterSettings")["returnValue"]
    assert settings["/reqGeneralInfo/reqInternalName"] == "AcmeAdapter"
    assert settings["/reqDialingOptions/reqLongDistPrefix"] == "1"
    assert settings["/reqGeneralInfo/reqAdapterUrl"].endswith("/opencti/lightning.html?vendor=acme")
    layout = phone.lx("getSoftphoneLayout")["returnValue"]
    assert list(layout["Inbound"]["objects"]) == ["Contact", "Account"]
    assert list(layout["Internal"]["objects"]) == ["User"]


def test_click_to_dial_follows_enable_and_disable(phone: Phone) -> None:
    page = phone.page
    phone.frame.evaluate("SP.incoming('+14155550123')")
    number = page.get_by_test_id("lines").locator("[data-dial-number='+14155550123']")
    expect(number).to_have_attribute("role", "button")
    assert phone.lx("disableClickToDial") == OK_NONE
    expect(number).not_to_have_attribute("role", "button")
    number.click()
    assert lib.stays(lambda: phone.log("onClickToDial") == [], page)
    assert phone.lx("enableClickToDial") == OK_NONE
    number.focus()
    page.keyboard.press("Enter")  # keyboard users dial too
    assert lib.wait_until(lambda: phone.log("onClickToDial"), page) == [
        {"number": "+14155550123", "recordId": None, "recordName": None, "objectType": None}
    ]
    # The interaction log's number (a call in wrap-up too) is a dial target as well.
    phone.frame.evaluate("SP.hangup()")
    page.get_by_test_id("log-call-number").click()
    calls = lib.wait_until(lambda: (v := phone.log("onClickToDial")) and len(v) == 2 and v, page)
    assert calls[1]["number"] == "+14155550123"


def test_navigation_change_follows_the_focused_tab(phone: Phone, crm: Any) -> None:
    phone.lx(
        "screenPop", {"type": "sobject", "params": {"recordId": "003Q", "objectType": "Contact"}}
    )
    phone.lx("screenPop", {"type": "url", "params": {"url": crm.url + "/other"}})
    seen = lib.wait_until(
        lambda: (v := phone.log("onNavigationChange")) and len(v) >= 2 and v, phone.page
    )
    assert seen[-1]["url"] == crm.url + "/other" and seen[-1]["recordId"] is None
    phone.page.get_by_test_id("primary-tabs").get_by_role("tab").first.click()
    last = lib.wait_until(
        lambda: (v := phone.log("onNavigationChange")) and v[-1]["recordId"] == "003Q" and v,
        phone.page,
    )[-1]
    assert last["objectType"] == "Contact"
    assert phone.lx("getAppViewInfo")["returnValue"]["recordId"] == "003Q"
    assert phone.lx("refreshView") == OK_NONE


def test_refresh_view_without_a_tab_says_so(phone: Phone) -> None:
    phone.failed(phone.lx("refreshView"), "no tab")


def test_run_apex_goes_to_the_operators_endpoint(phone: Phone, crm: Any) -> None:
    out = phone.lx(
        "runApex", {"apexClass": "AcmeCti", "methodName": "lookup", "methodParams": "phone=1"}
    )
    assert out == {
        "success": True,
        "returnValue": {"runApex": {"echo": "phone=1", "class": "AcmeCti"}},
        "errors": None,
    }
    assert crm.requests[-1] == {
        "path": "apex",
        "agent": phone.agent,
        "apexClass": "AcmeCti",
        "methodName": "lookup",
        "methodParams": "phone=1",
    }
    phone.failed(phone.lx("runApex", {"apexClass": "AcmeCti", "methodName": "fail"}), "HTTP 500")
    phone.failed(
        phone.lx("runApex", {"apexClass": "AcmeCti", "methodName": "slow"}),
        "did not answer within 2 s",
    )
    phone.failed(phone.lx("runApex", {"methodName": "x"}), "apexClass must be a non-empty string")


def test_hostile_arguments_never_throw(phone: Phone) -> None:
    f = phone.frame
    # No argument object, no callback, undefined callback: all work.
    f.evaluate("sforce.opencti.enableClickToDial()")
    f.evaluate("sforce.opencti.getAppViewInfo({callback: undefined})")
    f.evaluate("sforce.opencti.screenPop(42)")
    f.evaluate("sforce.opencti.saveLog('Subject=x')")
    f.evaluate("sforce.opencti.onClickToDial({listener: 'not a function'})")
    f.evaluate("sforce.opencti.onNavigationChange()")
    f.evaluate("sforce.opencti.setSoftphonePanelHeight({heightPX: 300, callback: 'nope'})")
    f.evaluate("sforce.opencti.notifyInitializationComplete('extra', 1)")
    # A function where the object goes: it hears why.
    out = phone.js(
        "sforce.opencti.getCallCenterSettings((r) => done(JSON.parse(JSON.stringify(r))))"
    )
    phone.failed(out, "takes one object argument")
    # A getter that throws, keys that are not data elsewhere.
    out = phone.js("""
        const v = Object.create(null);
        v['__proto__'] = 'p'; v.constructor = 'c'; v.toString = 'no';
        const cb = (r) => done(JSON.parse(JSON.stringify(r)));
        sforce.opencti.saveLog({value: v, callback: cb});""")
    assert out["success"] is True, out
    stored = phone.server.run(phone.server.store.get(out["returnValue"]["recordId"]))
    assert stored.attached_data["openCti"]["fields"] == {
        "__proto__": "p",
        "constructor": "c",
        "toString": "no",
    }
    out = phone.js("""
        const a = {callback: (r) => done(JSON.parse(JSON.stringify(r)))};
        Object.defineProperty(a, 'visible', {get() { throw new Error('gotcha'); }});
        sforce.opencti.setSoftphonePanelVisibility(a);""")
    phone.failed(out, "gotcha")
    # A callback that throws does not break the next call.
    f.evaluate(
        "sforce.opencti.isSoftphonePanelVisible({callback: () => { throw new Error('cb'); }})"
    )
    assert phone.lx("isSoftphonePanelVisible")["success"] is True
    # The page defines its own global postMessage: the script does not use it.
    f.evaluate("() => { window.postMessage = function () { throw new Error('hijacked'); }; }")
    assert phone.lx("isSoftphonePanelVisible")["success"] is True
    assert phone.errors == []


def test_the_api_version_selects_the_members(oc_servers: Any, oc_context: Any) -> None:
    server = oc_servers["lightning"]
    page = oc_context.new_page()
    page.goto(f"{server.component_url}/opencti/lightning.html?v=44&cti=0")
    page.wait_for_function("() => window.sforce && sforce.opencti && sforce.opencti.CALL_TYPE")
    assert page.evaluate("Object.keys(sforce.opencti.SCREENPOP_TYPE)") == [
        "SOBJECT",
        "URL",
        "OBJECTHOME",
        "LIST",
        "SEARCH",
        "NEW_RECORD_MODAL",
    ]
    assert page.evaluate("sforce.opencti.CALL_TYPE") == {
        "INBOUND": "inbound",
        "OUTBOUND": "outbound",
        "INTERNAL": "internal",
    }
    page.goto(f"{server.component_url}/opencti/lightning.html?v=45&cti=0")
    page.wait_for_function("() => window.sforce && sforce.opencti && sforce.opencti.CALL_TYPE")
    assert page.evaluate("sforce.opencti.SCREENPOP_TYPE.FLOW") == "flow"
    # Outside a console, every call answers in the documented shape.
    out = page.evaluate("() => new Promise((d) => sforce.opencti.getAppViewInfo({callback: d}))")
    assert out == {
        "success": False,
        "returnValue": None,
        "errors": [{"description": "not in console"}],
    }
    # Before 38.0 there is no Lightning Open CTI.
    status = page.evaluate(
        f"fetch('{server.component_url}/support/api/37.0/lightning/opencti_min.js')"
        ".then(r => r.status)"
    )
    assert status == 404


def test_relative_urls_query_objects_and_notify_callbacks(phone: Phone, crm: Any) -> None:
    out = phone.lx(
        "screenPop", {"type": "url", "params": {"url": "/lightning/r/Contact/003Z/view"}}
    )
    assert out == OK_NONE
    lib.find_frame(phone.page, lambda url: url.startswith(crm.url + "/lightning/r/Contact/003Z"))
    out = phone.lx(
        "searchAndScreenPop",
        {"searchParams": "+14155550100", "queryParams": {"a b": "c&d"}, "deferred": True},
    )
    assert out["success"] is True
    assert crm.requests[-1]["queryParams"] == "a%20b=c%26d"
    assert phone.lx("notifyInitializationComplete") == OK_NONE
    expect(phone.page.get_by_test_id("softphone-panel")).to_have_attribute("data-state", "ready")
