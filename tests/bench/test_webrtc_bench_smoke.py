"""Issue #14, item 6, small: the WebRTC benchmark (``python -m bench webrtc``) on real
processes: two consoles, two timed calls, two concurrent calls. Correctness only, no timing."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.scenarios.webrtc import measure  # noqa: E402

from ctikit.lab.sip import find_webrtc_parts  # noqa: E402


@pytest.mark.sip
@pytest.mark.browser
async def test_two_consoles_time_calls_and_hold_two_at_once() -> None:
    if os.environ.get("CTIKIT_SKIP_SIP") == "1":
        pytest.skip("CTIKIT_SKIP_SIP=1")
    find_webrtc_parts()  # else a LabError naming what to install
    args = argparse.Namespace(
        agents=2,
        setup_calls=2,
        hold=1.0,
        consoles_per_browser=1,  # two chromium processes: the bench's way past 16 consoles
        chromium=os.environ.get("CTIKIT_CHROMIUM", "/usr/bin/chromium"),
    )
    res = await measure(args)
    assert res["setup"]["ringing"]["n"] == 2 and res["setup"]["audio"]["n"] == 2, res
    assert res["setup"]["ringing"]["max"] > 0
    conc = res["concurrent"]
    assert (conc["rang"], conc["up"], conc["with_audio"]) == (2, 2, 2), res
    assert (res["lost"], res["dup"]) == (0, 0), res
    assert conc["errors"] == [] and len(res["setup"]["ringing_ms"]) == 2, res
