"""Load through the SIP lab: sipp customers call agents, who answer through the connector.

:func:`run_sipp` (or :func:`place_calls`, given only the proxy's port) places calls with a
sipp scenario that honours Record-Route (sipp's built-in ``uac`` sends its BYE without the
route set) and logs every call's Call-ID, number and SIP timestamps (:func:`read_sipp_calls`).
:class:`AnsweringSink` is an event sink that applies events to a real
:class:`~ctikit.core.CallRegistry` and answers every offered call, timing it.
``python -m ctikit.lab.load --help`` runs the connector-only benchmark;
``python -m bench sip`` the full one (server, consoles, call logs).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..connectors.base import ActionFailedError, Connector
from ..core import CallRegistry
from ..core.commands import Action
from ..core.telephony import (
    CallAnswered,
    CallOffered,
    CallReleased,
    ConnectorAction,
    TelephonyEvent,
)
from .connect import LabConnector
from .plan import HOST, AgentSpec, LabOptions, LabPlan, free_ports, plan_lab
from .sip import SipLab

log = logging.getLogger(__name__)

# [field0] is the number called, [field1] the caller's user. The ACK and BYE follow the route
# set of the 200 OK (rrs="true" -> [routes], [next_url]). The <log> lines (-trace_logs) give
# each call's Call-ID and number with wall-clock times (gettimeofday: seconds, microseconds):
#   I CALL-ID NUMBER invite_sent
#   E CALL-ID NUMBER ok_received bye_sent bye_answered   (the call completed)
#   F CALL-ID NUMBER                                     (refused: 486 when all lines are busy)
#   B CALL-ID NUMBER                                     (the BYE was refused)
# A refused call or BYE ends the call at once, counted failed, instead of waiting for a 200
# until sipp's -timeout. response_txn keeps a BYE's 404 from matching the INVITE's.
SIPP_UAC = """\
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="ctikit uac">
  <nop>
    <action>
      <gettimeofday assign_to="i_s,i_us"/>
      <log message="I [call_id] [field0] [$i_s] [$i_us]"/>
    </action>
  </nop>
  <send retrans="500" start_txn="invite">
    <![CDATA[
      INVITE sip:[field0]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field1]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field0]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[field1]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=sipp 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv response="100" optional="true" response_txn="invite"/>
  <recv response="180" optional="true" response_txn="invite"/>
  <recv response="183" optional="true" response_txn="invite"/>
  <recv response="404" optional="true" response_txn="invite" next="refused"/>
  <recv response="408" optional="true" response_txn="invite" next="refused"/>
  <recv response="480" optional="true" response_txn="invite" next="refused"/>
  <recv response="486" optional="true" response_txn="invite" next="refused"/>
  <recv response="500" optional="true" response_txn="invite" next="refused"/>
  <recv response="503" optional="true" response_txn="invite" next="refused"/>
  <recv response="603" optional="true" response_txn="invite" next="refused"/>
  <recv response="200" rtd="true" rrs="true" response_txn="invite">
    <action><gettimeofday assign_to="a_s,a_us"/></action>
  </recv>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:[field1]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field0]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:[field1]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <pause/>
  <nop><action><gettimeofday assign_to="b_s,b_us"/></action></nop>
  <send retrans="500" start_txn="bye">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:[field1]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field0]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:[field1]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="404" optional="true" response_txn="bye" next="bye_failed"/>
  <recv response="408" optional="true" response_txn="bye" next="bye_failed"/>
  <recv response="481" optional="true" response_txn="bye" next="bye_failed"/>
  <recv response="500" optional="true" response_txn="bye" next="bye_failed"/>
  <recv response="503" optional="true" response_txn="bye" next="bye_failed"/>
  <recv response="200" crlf="true" response_txn="bye" next="done">
    <action>
      <gettimeofday assign_to="e_s,e_us"/>
      <log message="E [call_id] [field0] [$a_s] [$a_us] [$b_s] [$b_us] [$e_s] [$e_us]"/>
    </action>
  </recv>
  <label id="refused"/>
  <send ack_txn="invite">
    <![CDATA[
      ACK sip:[field0]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field1]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field0]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <nop><action><log message="F [call_id] [field0]"/></action></nop>
  <!-- Nothing answers 999: the call ends at once and sipp counts it failed. -->
  <recv response="999" timeout="1"/>
  <label id="bye_failed"/>
  <nop><action><log message="B [call_id] [field0]"/></action></nop>
  <recv response="999" timeout="1"/>
  <label id="done"/>
</scenario>
"""


@dataclass(slots=True)
class SippResult:
    returncode: int
    successful: int
    failed: int
    log_path: Path
    calls_path: Path | None = None  # the scenario's <log> lines (see SIPP_UAC)


@dataclass(frozen=True, slots=True)
class SippCall:
    """One call as sipp saw it (times: seconds since the epoch; None if not reached)."""

    call_id: str
    number: str
    invite_sent: float
    ok_received: float | None = None
    bye_sent: float | None = None
    bye_answered: float | None = None
    refused: bool = False  # a 4xx/5xx/6xx final response (486: every line busy)
    bye_failed: bool = False  # the BYE got an error response

    @property
    def completed(self) -> bool:
        return self.bye_answered is not None


async def run_sipp(
    plan: LabPlan,
    targets: Sequence[str],
    *,
    calls: int,
    concurrency: int,
    rate: float,
    hold_ms: int,
    caller: str = "customer",
    sipp: str = "sipp",
    max_seconds: int = 120,
) -> SippResult:
    """Place ``calls`` calls (to ``targets`` in turn) and wait for sipp to finish."""
    return await place_calls(
        plan.proxy_port, plan.root / "sipp", targets, calls=calls, concurrency=concurrency,
        rate=rate, hold_ms=hold_ms, caller=caller, sipp=sipp, max_seconds=max_seconds,
    )  # fmt: skip


async def place_calls(
    proxy_port: int,
    work: Path,
    targets: Sequence[str],
    *,
    calls: int,
    concurrency: int,
    rate: float,
    hold_ms: int,
    caller: str = "customer",
    sipp: str = "sipp",
    max_seconds: int = 120,
) -> SippResult:
    """:func:`run_sipp` for a proxy on ``HOST:proxy_port``, with sipp's files in ``work``:
    ``calls`` calls to ``targets`` in turn (at most ``concurrency`` at once, ``rate`` new
    calls per second), each held ``hold_ms`` after the answer, then hung up by sipp."""
    scenario, inf, stats, calls_log = await asyncio.to_thread(_prepare_sipp, work, targets, caller)
    port = free_ports(4)
    argv = [
        sipp, f"{HOST}:{proxy_port}", "-sf", str(scenario), "-inf", str(inf),
        "-i", HOST, "-p", str(port), "-mi", HOST, "-mp", str(port + 2),
        "-m", str(calls), "-l", str(concurrency), "-r", str(rate), "-d", str(hold_ms),
        "-nostdin", "-timeout", f"{max_seconds}s", "-timeout_error",
        # kamailio's workers may forward a 180 after the 200: ignore it rather than abort.
        "-default_behaviors", "all,-abortunexp",
        "-trace_stat", "-stf", str(stats), "-fd", "1",
        "-trace_err", "-error_file", str(work / "errors.log"),
        "-trace_logs", "-log_file", str(calls_log),
    ]  # fmt: skip
    log_path = work / "sipp.log"
    with log_path.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
        try:
            rc = await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    ok, bad = _sipp_counts(stats)
    return SippResult(
        returncode=rc, successful=ok, failed=bad, log_path=log_path, calls_path=calls_log
    )


def _prepare_sipp(work: Path, targets: Sequence[str], caller: str) -> tuple[Path, Path, Path, Path]:
    """Write the scenario and the numbers to call; clear the last run's outputs."""
    work.mkdir(parents=True, exist_ok=True)
    scenario = work / "uac.xml"
    scenario.write_text(SIPP_UAC)
    inf = work / "calls.csv"
    inf.write_text("SEQUENTIAL\n" + "".join(f"{t};{caller};\n" for t in targets))
    stats = work / "stats.csv"
    calls_log = work / "calls.log"
    for old in (stats, calls_log):
        old.unlink(missing_ok=True)
    return scenario, inf, stats, calls_log


def read_sipp_calls(path: Path) -> dict[str, SippCall]:
    """The calls of a :func:`place_calls` run by Call-ID, from its ``<log>`` lines."""
    out: dict[str, SippCall] = {}
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        f = line.split()
        if len(f) == 3 and f[0] in ("F", "B") and f[1] in out:
            failed = out[f[1]]
            if f[0] == "F":
                out[f[1]] = replace(failed, refused=True)
            else:
                out[f[1]] = replace(failed, bye_failed=True)
            continue
        if len(f) < 5 or f[0] not in ("I", "E"):
            continue
        try:
            times = [float(s) + float(us) / 1e6 for s, us in zip(f[3::2], f[4::2], strict=False)]
        except ValueError:
            continue
        call_id, number = f[1], f[2]
        if f[0] == "I":
            out[call_id] = SippCall(call_id, number, times[0])
        elif len(times) == 3:
            before = out.get(call_id)
            out[call_id] = SippCall(
                call_id,
                number,
                before.invite_sent if before else float("nan"),
                ok_received=times[0],
                bye_sent=times[1],
                bye_answered=times[2],
            )
    return out


def _sipp_counts(stats: Path) -> tuple[int, int]:
    try:
        rows = list(csv.DictReader(stats.read_text().splitlines(), delimiter=";"))
    except FileNotFoundError:
        return 0, 0
    if not rows:
        return 0, 0
    last = rows[-1]
    return int(last.get("SuccessfulCall(C)") or 0), int(last.get("FailedCall(C)") or 0)


@dataclass(slots=True)
class AnsweringSink:
    """Applies events to a real registry and answers every inbound call it is offered."""

    clock: Any = time.monotonic
    registry: CallRegistry = field(default_factory=CallRegistry)
    connector: Connector | None = None
    events: list[TelephonyEvent] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    offered_at: dict[tuple[str, str], float] = field(default_factory=dict)
    answer_latency: list[float] = field(default_factory=list)
    active: int = 0
    peak_active: int = 0
    released: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def report(self, event: TelephonyEvent) -> None:
        self.events.append(event)
        try:
            self.registry.apply(event, now=time.time())
        except Exception as exc:
            self.errors.append(f"registry refused {event!r}: {exc}")
        now = self.clock()
        match event:
            case CallOffered(outgoing=False):
                self.offered_at[(event.agent, event.call_id)] = now
                self.active += 1
                self.peak_active = max(self.peak_active, self.active)
                if self.connector is not None:
                    task = asyncio.get_running_loop().create_task(self._answer(event))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            case CallAnswered():
                start = self.offered_at.get((event.agent, event.call_id))
                if start is not None:
                    self.answer_latency.append(now - start)
            case CallReleased():
                if self.offered_at.pop((event.agent, event.call_id), None) is not None:
                    self.active -= 1
                self.released += 1

    async def _answer(self, offer: CallOffered) -> None:
        assert self.connector is not None
        action = ConnectorAction(agent=offer.agent, action=Action.ANSWER, call_id=offer.call_id)
        try:
            await self.connector.execute(action)
        except ActionFailedError as exc:
            self.errors.append(f"answer {offer.call_id}: {exc}")

    def count(self, cls: type) -> int:
        return sum(isinstance(e, cls) for e in self.events)


def _cpu_seconds(lab: SipLab) -> float:
    """CPU time used so far by the lab's baresip processes (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for proc in lab.phones.values():
        try:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


async def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Run the load benchmark described by ``args``; returns the measurements."""
    root = Path(args.dir or tempfile.mkdtemp(prefix="ctikit-sip-bench-"))
    agents = [
        AgentSpec(agent=f"agent{i + 1}", extension=str(2001 + i), lines=args.lines)
        for i in range(args.agents)
    ]
    plan = plan_lab(root, agents, [], LabOptions(ring_timeout=30))
    conn = LabConnector.for_plan(plan, ready_timeout=60.0)
    sink = AnsweringSink(connector=conn)
    t0 = time.monotonic()
    await conn.start(sink)
    setup = time.monotonic() - t0
    targets = [a.extension for a in agents]
    cpu0 = time.process_time()
    try:
        t1 = time.monotonic()
        result = await run_sipp(
            plan, targets, calls=args.calls, concurrency=args.concurrency, rate=args.rate,
            hold_ms=args.hold, max_seconds=args.timeout,
        )  # fmt: skip
        elapsed = time.monotonic() - t1
        await asyncio.sleep(0.5)  # the last releases
        cpu = time.process_time() - cpu0
        phones_cpu = _cpu_seconds(conn.lab)
    finally:
        await conn.stop()
    lat = sink.answer_latency
    return {
        "agents": args.agents,
        "lines_per_agent": args.lines,
        "baresip_processes": args.agents * args.lines,
        "calls": args.calls,
        "concurrency": args.concurrency,
        "hold_ms": args.hold,
        "setup_s": round(setup, 2),
        "run_s": round(elapsed, 2),
        "sipp_rc": result.returncode,
        "sipp_successful": result.successful,
        "sipp_failed": result.failed,
        "offered": sink.count(CallOffered),
        "answered": sink.count(CallAnswered),
        "released": sink.count(CallReleased),
        "peak_concurrent_calls": sink.peak_active,
        "ctikit_cpu_s": round(cpu, 2),  # this process: connector + registry + event loop
        "baresip_cpu_s": round(phones_cpu, 2),  # all phones, setup included
        "answer_latency_ms": {
            "p50": round(1000 * statistics.median(lat), 1) if lat else None,
            "p95": round(1000 * _pct(lat, 0.95), 1) if lat else None,
            "max": round(1000 * max(lat), 1) if lat else None,
        },
        "errors": sink.errors[:10],
        "lab": str(root),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m ctikit.lab.load",
        description="sipp calls -> kamailio -> baresip agent phones answered via SipConnector",
    )
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--lines", type=int, default=6, help="baresip processes per agent")
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=100, help="sipp -l")
    p.add_argument("--rate", type=float, default=50.0, help="new calls per second")
    p.add_argument("--hold", type=int, default=5000, help="call length after answer (ms)")
    p.add_argument("--timeout", type=int, default=180)
    p.add_argument("--dir", help="lab directory (default: a new temporary one)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    out = asyncio.run(benchmark(args))
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    ok = out["sipp_failed"] == 0 and out["sipp_successful"] == args.calls and not out["errors"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
