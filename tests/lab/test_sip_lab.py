"""Lab layout and files (no processes), process supervision with harmless programs, and the
generated kamailio config checked by kamailio itself."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from ctikit.lab import AgentSpec, LabError, LabOptions, ManagedProcess, find_binaries, plan_lab
from ctikit.lab.phones import write_wav
from ctikit.lab.plan import PORTS_PER_PROCESS
from ctikit.lab.sip import sip_ping, write_lab

AGENTS = [
    AgentSpec(agent="agent1", extension="1001", lines=2, queues=("8000",)),
    AgentSpec(agent="agent2", extension="1002", lines=3, queues=("8000", "8001")),
]


def test_plan_gives_each_process_its_own_port_block(tmp_path: Path) -> None:
    plan = plan_lab(tmp_path, AGENTS, ["cust1"], LabOptions(seed=1))
    assert [p.name for p in plan.phones] == [
        "agent1-1", "agent1-2", "agent2-1", "agent2-2", "agent2-3", "caller-cust1",
    ]  # fmt: skip
    ports = [plan.proxy_port] + [p.sip_port for p in plan.phones]
    assert all(b - a == PORTS_PER_PROCESS for a, b in itertools.pairwise(ports))
    assert all(p.ctrl_port == p.sip_port + 2 for p in plan.phones)  # TLS takes sip_port + 1
    assert 21000 <= plan.proxy_port and ports[-1] + 3 < 31000
    lo, hi = plan.rtp_ports
    assert hi - lo == 1999 and not (lo <= plan.proxy_port <= hi)
    assert plan.directory().agent_for("1002") == "agent2"
    assert plan.caller("cust1").max_calls > 1 and plan.agent_phones()[0].max_calls == 1


def test_hunting_order_by_q(tmp_path: Path) -> None:
    plan = plan_lab(tmp_path, AGENTS, [])
    q = {(p.name, user): qv or 0.0 for p in plan.phones for user, qv in p.accounts}
    # An agent's line 1 before its line 2.
    assert q[("agent1-1", "1001")] > q[("agent1-2", "1001")]
    # Queue 8000: every member's line 1 before anyone's line 2, then members in order.
    order = sorted((-qv, name) for (name, user), qv in q.items() if user == "8000")
    assert [name for _, name in order] == [
        "agent1-1", "agent2-1", "agent1-2", "agent2-2", "agent2-3",
    ]  # fmt: skip
    assert len(set(qv for (_, user), qv in q.items() if user == "8000")) == 5


def test_written_files(tmp_path: Path) -> None:
    plan = plan_lab(tmp_path, AGENTS, ["cust1"], LabOptions(regint=30, wav_seconds=2))
    write_lab(plan)
    cfg = (tmp_path / "phones" / "agent2-1" / "config").read_text()
    for needle in (
        "net_interface\t\t127.0.0.1",
        f"sip_listen\t\t127.0.0.1:{plan.phones[2].sip_port}",
        f"ctrl_tcp_listen\t\t127.0.0.1:{plan.phones[2].ctrl_port}",
        "call_max_calls\t\t1",
        "audio_source\t\tausine,440",
        "module_tmp\t\tuuid.so",
        "module_app\t\tctrl_tcp.so",
    ):
        assert needle in cfg, needle
    accounts = (tmp_path / "phones" / "agent2-1" / "accounts").read_text().splitlines()
    assert accounts[0] == (
        f"<sip:1002@127.0.0.1:{plan.proxy_port};transport=udp>;regint=30;answermode=manual;"
        "regq=1.000"
    )
    assert len(accounts) == 3 and "sip:8001@" in accounts[2]
    caller_cfg = (tmp_path / "phones" / "caller-cust1" / "config").read_text()
    assert f"audio_source\t\taufile,{tmp_path / 'caller-425hz.wav'}" in caller_cfg
    assert "ausrc_srate\t\t8000" in caller_cfg
    kam = (tmp_path / "kamailio.cfg").read_text()
    assert f"listen=udp:127.0.0.1:{plan.proxy_port}" in kam and "auto_aliases=no" in kam
    assert '$T_reply_reason == "Max Calls"' in kam
    assert (tmp_path / "kamailio-db" / "location").read_text().startswith("id(int,auto)")
    with wave.open(str(tmp_path / "caller-425hz.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() == 2 * 8000
    write_lab(plan)  # idempotent: rewriting keeps the registrations database


def test_wav_is_a_tone(tmp_path: Path) -> None:
    write_wav(tmp_path / "t.wav", seconds=1, rate=16000, freq=1000)
    with wave.open(str(tmp_path / "t.wav")) as w:
        frames = w.readframes(w.getnframes())
    assert w.getframerate() == 16000 and max(frames) > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"agent": "agent 1", "extension": "1001"}, "agent ID"),
        ({"agent": "a", "extension": "10#1"}, "usable extension"),
        ({"agent": "a", "extension": "1001", "lines": 0}, "1 to 50 lines"),
        ({"agent": "a", "extension": "1001", "queues": ("8-0",)}, "usable extension"),
    ],
)
def test_bad_agent_specs(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AgentSpec(**kwargs)  # type: ignore[arg-type]


def test_bad_plans(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unique"):
        plan_lab(tmp_path, [AGENTS[0], AGENTS[0]])
    with pytest.raises(ValueError, match="caller"):
        plan_lab(tmp_path, AGENTS, ["1001"])
    with pytest.raises(ValueError, match="smaller than"):
        plan_lab(tmp_path, AGENTS, [], LabOptions(port_range=(21000, 21010)))


def test_missing_binaries_are_named() -> None:
    with pytest.raises(LabError, match="no-such-kamailio not found"):
        find_binaries("no-such-kamailio", "baresip")


def test_sip_ping_of_a_silent_port_is_false() -> None:
    assert sip_ping(9, timeout=0.05) is False


# ---------------------------------------------------------------- supervision


async def test_supervisor_restarts_and_stops(tmp_path: Path) -> None:
    exits: list[int] = []
    proc = ManagedProcess(
        "sleeper", [sys.executable, "-c", "import time; time.sleep(60)"],
        log_path=tmp_path / "sleeper.log", backoff=(0.01, 0.05), on_exit=exits.append,
    )  # fmt: skip
    await proc.start()
    first = proc.pid
    assert first is not None and proc.running
    proc.signal(signal.SIGKILL)
    async with asyncio.timeout(5):
        await proc.wait_restarted(1)
    assert proc.pid != first and exits == [-signal.SIGKILL]
    await proc.stop()
    assert not proc.running and exits == [-signal.SIGKILL]  # a requested stop is no exit
    await proc.stop()  # idempotent


async def test_stop_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    code = (
        "import signal, time, sys; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        "print('ready', flush=True); time.sleep(60)"
    )
    proc = ManagedProcess(
        "stubborn", [sys.executable, "-c", code], log_path=tmp_path / "s.log", term_timeout=0.3
    )
    await proc.start()
    async with asyncio.timeout(5):
        while "ready" not in (tmp_path / "s.log").read_text():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    pid = proc.pid
    await proc.stop()
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_a_program_that_cannot_start_raises(tmp_path: Path) -> None:
    proc = ManagedProcess("nothing", [str(tmp_path / "missing")], log_path=tmp_path / "x.log")
    with pytest.raises(FileNotFoundError):
        await proc.start()
    await proc.stop()


@pytest.mark.sip
def test_kamailio_accepts_the_generated_config(tmp_path: Path) -> None:
    plan = plan_lab(tmp_path, AGENTS, ["cust1"])
    write_lab(plan)
    kamailio = shutil.which("kamailio")
    assert kamailio is not None
    out = subprocess.run(
        [kamailio, "-c", "-f", str(tmp_path / "kamailio.cfg")],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
