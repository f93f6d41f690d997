"""Load through the SIP lab: sipp customers call agents, who answer through the connector.

:func:`run_sipp` places calls with a sipp scenario that honours Record-Route (sipp's built-in
``uac`` sends its BYE without the route set). :class:`AnsweringSink` is an event sink that
applies events to a real :class:`~ctikit.core.CallRegistry` and answers every offered call,
timing it. ``python -m ctikit.connectors.sip.load --help`` runs the benchmark.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...core import CallRegistry
from ...core.commands import Action
from ...core.telephony import (
    CallAnswered,
    CallOffered,
    CallReleased,
    ConnectorAction,
    TelephonyEvent,
)
from ..base import ActionFailedError
from .connector import SipConnector
from .labconfig import HOST, AgentSpec, LabOptions, LabPlan, free_ports, plan_lab

log = logging.getLogger(__name__)

# [field0] is the number called, [field1] the caller's user. The ACK and BYE follow the route
# set of the 200 OK (rrs="true" -> [routes], [next_url]).
SIPP_UAC = """\
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="ctikit uac">
  <send retrans="500">
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
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true" rrs="true"/>
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
  <send retrans="500">
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
  <recv response="200" crlf="true"/>
</scenario>
"""


@dataclass(slots=True)
class SippResult:
    returncode: int
    successful: int
    failed: int
    log_path: Path


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
    work = plan.root / "sipp"
    work.mkdir(parents=True, exist_ok=True)
    scenario = work / "uac.xml"
    scenario.write_text(SIPP_UAC)
    inf = work / "calls.csv"
    inf.write_text("SEQUENTIAL\n" + "".join(f"{t};{caller};\n" for t in targets))
    stats = work / "stats.csv"
    stats.unlink(missing_ok=True)
    port = free_ports(4)
    argv = [
        sipp, f"{HOST}:{plan.proxy_port}", "-sf", str(scenario), "-inf", str(inf),
        "-i", HOST, "-p", str(port), "-mi", HOST, "-mp", str(port + 2),
        "-m", str(calls), "-l", str(concurrency), "-r", str(rate), "-d", str(hold_ms),
        "-nostdin", "-timeout", f"{max_seconds}s", "-timeout_error",
        # kamailio's workers may forward a 180 after the 200: ignore it rather than abort.
        "-default_behaviors", "all,-abortunexp",
        "-trace_stat", "-stf", str(stats), "-fd", "1",
        "-trace_err", "-error_file", str(work / "errors.log"),
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
    return SippResult(returncode=rc, successful=ok, failed=bad, log_path=log_path)


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
    connector: SipConnector | None = None
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


def _cpu_seconds(conn: SipConnector) -> float:
    """CPU time used so far by the lab's baresip processes (Linux /proc)."""
    if conn.lab is None:
        return float("nan")
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for proc in conn.lab.phones.values():
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
    conn = SipConnector.for_lab(plan, ready_timeout=60.0)
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
        phones_cpu = _cpu_seconds(conn)
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
        prog="python -m ctikit.connectors.sip.load",
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
