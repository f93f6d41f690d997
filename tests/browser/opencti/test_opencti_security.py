"""Open CTI and other people's data: only the softphone panel's frame may use Open CTI, and a
softphone acts for its own agent only (another agent's logs and calls stay out of reach)."""

from __future__ import annotations

import itertools
import sys
from typing import Any

lib = sys.modules["ctikit_browser_harness_lib"]
_n = itertools.count(1)

# Posts a raw request from a frame with its own nonce, as a component could; the answer.
RAW_OPEN_CTI = """(args) => new Promise((done) => {
  const p = new URLSearchParams(location.search);
  const nonce = p.getAll('nonce').pop(), origin = p.getAll('ctiConsoleOrigin').pop();
  addEventListener('message', (ev) => {
    if (ev.data && ev.data.kind === 'response' && ev.data.id === 'evil-1') done(ev.data);
  });
  const send = () => parent.postMessage({ctikit: 1, kind: 'hello', nonce}, origin);
  send();
  setTimeout(() => parent.postMessage({ctikit: 1, kind: 'request', id: 'evil-1', nonce,
    op: 'openCti', method: args.method, args: args.args}, origin), 200);
})"""


def console(context: Any, server: Any) -> tuple[str, Any, Any]:
    agent = f"ocs{next(_n)}"
    page = context.new_page()
    server.login(context, agent)
    page.goto(f"{server.url}/console?agent={agent}")
    frame = lib.find_frame(page, lambda url: "/opencti/lightning.html" in url)
    lib.wait_until(lambda: frame.evaluate("window.SP && SP.ready"), page)
    return agent, page, frame


def lx(frame: Any, method: str, args: Any) -> Any:
    return frame.evaluate("([m, a]) => SP.lx(m, a)", [method, args])


def test_only_the_softphone_frame_may_use_open_cti(
    oc_servers: Any, oc_context: Any, crm: Any
) -> None:
    server = oc_servers["lightning"]
    agent, page, frame = console(oc_context, server)
    harness = lib.find_frame(page, lib.is_harness())
    lib.Harness(harness).wait_ready()
    out = harness.evaluate(RAW_OPEN_CTI, {"method": "saveLog", "args": {"fields": {"A": "b"}}})
    assert out["success"] is False
    assert out["error"] == "only the softphone panel may use Open CTI"
    # A page in a tab (another site) is no softphone either.
    assert lx(frame, "screenPop", {"type": "url", "params": {"url": crm.url + "/tab"}})["success"]
    tab = lib.find_frame(page, lambda url: url.startswith(crm.url + "/tab"))
    out = tab.evaluate(RAW_OPEN_CTI, {"method": "enableClickToDial", "args": {}})
    assert out["error"] == "only the softphone panel may use Open CTI"
    logs = server.api("GET", f"/api/call-logs?agent={agent}", auth=agent)[1]
    assert logs["logs"] == []


def test_a_softphone_cannot_reach_another_agents_logs_or_calls(
    oc_servers: Any, browser: Any
) -> None:
    server = oc_servers["lightning"]
    ctx_a, ctx_b = browser.new_context(), browser.new_context()
    try:
        agent_b, _, frame_b = console(ctx_b, server)
        call_b = frame_b.evaluate("SP.incoming('+14155550100')")
        out = lx(frame_b, "saveLog", {"value": {"Subject": "B's secret", "CallObject": call_b}})
        log_b = out["returnValue"]["recordId"]

        agent_a, _, frame_a = console(ctx_a, server)
        # Updating B's log: refused, and it is unchanged.
        out = lx(frame_a, "saveLog", {"value": {"Id": log_b, "Subject": "overwritten"}})
        assert out["success"] is False
        assert "no call log" in out["errors"][0]["description"]
        assert server.run(server.store.get(log_b)).subject == "B's secret"
        # Naming B's call: the log is A's and carries nothing of B's call.
        out = lx(frame_a, "saveLog", {"value": {"Subject": "mine", "CallObject": call_b}})
        mine = server.run(server.store.get(out["returnValue"]["recordId"]))
        assert mine.agent_id == agent_a and mine.attached_data["call"] is None
        assert mine.ani is None and mine.label is None
        b_logs = server.api("GET", f"/api/call-logs?agent={agent_b}", auth=agent_b)[1]["logs"]
        assert [log["id"] for log in b_logs] == [log_b]
        # A cannot read B's logs over REST either.
        status, _ = server.api("GET", f"/api/call-logs?agent={agent_b}", auth=agent_a)
        assert status == 403
    finally:
        ctx_a.close()
        ctx_b.close()
