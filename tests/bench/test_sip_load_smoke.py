"""Issue #4, item 6, small: the SIP load benchmark (``python -m bench sip``) on real processes.

Ten concurrent sipp calls through kamailio to three agents' baresip phones (four lines each),
the real ctikit server with the SIP connector, one console socket per agent answering with
``/ANSWER`` and saving a call log per call. Correctness only, no timing: every call's begin,
answered and end events exactly once at the right console, every saved log in the database.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.harness import Options  # noqa: E402
from bench.scenarios.sip_load import SipLoadParams, analyse, measure  # noqa: E402

from ctikit.lab.load import SippCall  # noqa: E402


@pytest.mark.sip
async def test_ten_concurrent_calls_server_to_consoles(tmp_path: Path) -> None:
    params = SipLoadParams(
        agents=3,
        lines=4,
        calls=10,
        concurrent=10,
        rate=20.0,
        hold=3.0,
        ready_timeout=60.0,
        drain=15.0,
        dir=str(tmp_path / "run"),
    )
    opts = Options(server_cpu="", client_cpu="", logs=tmp_path / "logs", quiet=True)
    res = await measure(params, opts)

    assert res["problems"] == [], res["problems"]
    assert res["counts"] == {"placed": 10, "completed": 10}, res["counts"]
    assert res["connect"]["opened"] == 3
    assert res["peak_consoles"] == 10  # all ten were up at once
    assert res["lost"]["total"] == 0 and res["seq_lost"] == 0 and res["tail"]["missing"] == 0
    assert res["dup"]["total"] == 0 and res["stats"]["dup"] == 0
    assert res["wrong_console"] == 0
    assert res["logs"]["saved"] == res["logs"]["in_db"] == 10
    assert res["logs"]["other_rows"] == 0 and res["logs"]["save_failures"] == 0
    assert res["answer_failures"] == 0 and res["errors"] == []
    assert res["calls_per_agent"] == {"min": 3, "max": 4}  # sipp dials 2001..2003 in turn
    for kind in ("offered_at_console", "answered_at_console", "ended_at_console"):
        assert res["latency"][kind]["n"] == 10, (kind, res["latency"][kind])
    assert res["lab_restarts"] == 0


def _seen(agent: str, cid: str, **counts: object) -> dict[str, object]:
    rec: dict[str, object] = dict(
        agent=agent, id=cid, begin=1, answered=1, end=1, updates=0, begin_at=1.0,
        begin_rx=1.001, ans_at=1.1, ans_rx=1.101, answer_sent=1.002, end_at=2.0,
        end_rx=2.001, save_sent=2.002, save_rx=2.01, log_id=f"log-{cid}",
    )  # fmt: skip
    rec.update(counts)
    return rec


def test_the_checks_catch_lost_duplicated_misrouted_and_unlogged() -> None:
    """The analysis itself, on made-up observations: it must not pass vacuously."""
    truth = {
        cid: SippCall(cid, number, 0.99, ok_received=1.05, bye_sent=1.99, bye_answered=2.0)
        for cid, number in (("c1", "2001"), ("c2", "2001"), ("c3", "2002"), ("c4", "2002"))
    }
    truth["c5"] = SippCall("c5", "2002", 0.99, refused=True)
    agent_of = {"2001": "a1", "2002": "a2"}
    seen = {
        "calls": [
            _seen("a1", "c1"),
            _seen("a1", "c2", begin=2),  # callBegin twice
            _seen("a2", "c3", end=0, log_id=None),  # callEnd lost, so no log either
            _seen("a2", "c4"),
            _seen("a1", "c4", answered=0, end=0, log_id=None),  # c4 also reached a1
            _seen("a2", "c9", answered=0, end=0, log_id=None),  # a call sipp never made
        ],
        "peak_active": 3,
        "seq_lost": 0,
        "answer_failures": 0,
        "save_failures": 0,
        "errors": [],
        "other_events": {},
    }
    db = {"rows": [["log-c1", "a1", "c1"], ["log-c2", "a1", "c2"]]}  # c4's log missing
    res = analyse(truth, seen, agent_of, db)
    assert res["counts"] == {"placed": 5, "completed": 4, "failed": 1, "refused": 1}
    assert res["lost"] == {"begin": 0, "answered": 0, "end": 1, "total": 1}
    assert res["dup"] == {"begin": 1, "answered": 0, "end": 0, "total": 1}
    assert res["wrong_console"] == 2 and res["unknown_call_events"] == 1
    assert res["logs"]["saved"] == 3 and res["logs"]["in_db"] == 2
    assert res["logs"]["missing"] == 1 and res["logs"]["ended_without_log"] == 0
    assert res["latency"]["offered_at_console"]["n"] == 4
    assert res["peak_sipp"] == 4
