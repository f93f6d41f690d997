"""Scenario sip, SIP load (issue #4, item 6): real SIP calls, answered and logged from consoles.

The full path, every part real: the ctikit server (``build_app``, demo mode, SQLite in a
temporary directory) runs the SIP connector with its own lab, as ``ctikit demo --sip`` does:
kamailio and one baresip process per agent line (all on 127.0.0.1). One console WebSocket per
agent (the lean client of bench/leanws.py, speaking docs/protocol.md). sipp places the calls
(``ctikit.lab.load.place_calls``: ``--calls`` calls to the agents' extensions in
turn, at most ``--concurrent`` at once); kamailio hunts each to a free line of the agent.
Each console answers every call it is offered by sending the CTI message ``/ANSWER?CALL_ID=``
over its socket (``sendCTIMessage``), sipp hangs up after ``--hold`` seconds, and the console
then saves a call log (``saveCallLog``, the request the console page sends).

Checks, against sipp's own record of every call (Call-ID, number dialled, SIP timestamps):
each call's ``callBegin``, ``callUpdate`` to *connected* and ``callEnd`` reach the console of
the agent whose extension sipp dialled exactly once, and no other console; every saved call
log is in the database (read with sqlite3, not through the server). Any lost, duplicated or
misrouted event, missing log, failed save or failed SIP call makes the run fail (exit 1).

Latency ``at→console``: ``at`` is the server's ``time.time()`` when ``CtiService.report``
applied the connector's event (the connector reports it in the callback that read baresip's
``ctrl_tcp`` event); the console subtracts it from ``time.time()`` when the frame's bytes
arrive (same machine, same clock). It covers registry, fan-out, the socket's outbox task,
aiohttp's send, loopback TCP and the client's read, not SIP. The SIP side is measured from
sipp's clock (``gettimeofday`` in the scenario): INVITE sent → ``callBegin`` at the console,
BYE sent → ``callEnd`` at the console, and ``/ANSWER`` sent by the console → *connected* at
the console (sendCTIMessage, connector, baresip ``accept``, 200/ACK, CALL_ESTABLISHED, back).

The lab's processes and sipp are not pinned (they float over every core); the server is
pinned to ``--server-cpu`` and the consoles' process to ``--client-cpu`` as in every
scenario. There is no baseline: nothing else here speaks SIP (``--targets`` is ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import resource
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import msgspec

from ctikit.lab import LabConnector, LabOptions
from ctikit.lab.load import SippCall, place_calls, read_sipp_calls

from .. import sysinfo
from ..client import LoadClient
from ..control import LINE_LIMIT, REPO_ROOT, Child, ChildError, serve_control
from ..ctikit_server import CtikitServer
from ..harness import Options, agent_ids
from ..leanws import Slot
from ..report import RESULTS_DIR, Report, check
from ..server_base import run as run_server
from ..stats import percentile, summarize

NAME = "sip"
HELP = "SIP load: sipp calls via kamailio to baresip phones, answered and logged from consoles"
FIRST_EXTENSION = 2001
#: How a child of this scenario starts (see :func:`_spawn`).
CHILD_CODE = "from bench.scenarios.sip_load import child_main; child_main()"
#: The call events checked per call, by the key the console counts them under.
CALL_EVENTS = ("begin", "answered", "end")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--agents", type=int, default=20, help="agents, one console each")
    p.add_argument("--lines", type=int, default=6, help="lines (baresip processes) per agent")
    p.add_argument("--calls", type=int, default=300, help="calls sipp places in all")
    p.add_argument("--concurrent", type=int, default=100, help="calls up at once (sipp -l)")
    p.add_argument("--rate", type=float, default=20.0, help="new calls per second (sipp -r)")
    p.add_argument("--hold", type=float, default=10.0, help="seconds from answer to BYE")
    p.add_argument("--ring", type=float, default=0.0, help="console waits this before /ANSWER")
    p.add_argument("--wrap", type=float, default=0.0, help="console waits this before the log")
    p.add_argument("--ready-timeout", type=float, default=120.0, help="lab start-up limit, s")
    p.add_argument("--drain", type=float, default=30.0, help="wait for late events, s")
    p.add_argument("--dir", default=None, help="lab, sipp and database files (default: temp)")
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary files after a good run too (a failed run or --dir keeps them)",
    )


@dataclass(frozen=True, slots=True)
class SipLoadParams:
    agents: int = 20
    lines: int = 6
    calls: int = 300
    concurrent: int = 100
    rate: float = 20.0
    hold: float = 10.0
    ring: float = 0.0
    wrap: float = 0.0
    ready_timeout: float = 120.0
    drain: float = 30.0
    dir: str | None = None
    keep: bool = False
    profile: bool = False  # pyinstrument in the server during the calls (--profile)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> SipLoadParams:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in vars(args).items() if k in names})

    @property
    def sipp_timeout(self) -> int:
        """sipp's overall limit: generous, only a safety net."""
        rounds = self.calls / max(1, self.concurrent) + 1
        return int(self.calls / self.rate + rounds * (self.hold + 5) + 60)


# ====================================================================== the run


async def measure(p: SipLoadParams, opts: Options) -> dict[str, Any]:
    """Run the scenario once; return every measurement, ``problems`` listing what failed."""
    opts.logs.mkdir(parents=True, exist_ok=True)
    run_dir = Path(p.dir) if p.dir else Path(tempfile.mkdtemp(prefix="ctikit-sip-bench-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%H%M%S")
    server_log = opts.logs / f"{stamp}-sip-server.log"
    restore_affinity = _float_over_all_cores()  # sipp, started from here, is not pinned
    server: Child | None = None
    client: Child | None = None
    out: dict[str, Any] = {"params": asdict(p), "dir": str(run_dir)}
    try:
        t0 = time.perf_counter()
        opts.say(f"sip: starting ctikit, kamailio and {p.agents * p.lines} baresip phones")
        server_args = [
            "--cpu", opts.server_cpu, "--log-level", opts.log_level,
            "--workdir", str(run_dir / "server"), "--lab", str(run_dir / "lab"),
            "--agents", str(p.agents), "--lines", str(p.lines),
            "--ready-timeout", str(p.ready_timeout),
        ]  # fmt: skip
        server = await _spawn(
            "server", "server", server_args, server_log, within=p.ready_timeout + 60
        )
        out["setup_s"] = time.perf_counter() - t0
        lab = await server.call("lab")
        client = await _spawn(
            "consoles", "client", ["--cpu", opts.client_cpu], opts.logs / f"{stamp}-sip-client.log"
        )
        agents = list(lab["extensions"])
        conn = await client.call(
            "connect", port=server.ready["port"], agents=agents, per_agent=1, timeout=60, within=90
        )
        out["connect"] = conn
        if conn["opened"] != len(agents):
            raise RuntimeError(f"only {conn['opened']} of {len(agents)} consoles connected")
        await client.call("arm", ring=p.ring, wrap=p.wrap)
        await client.call("reset")
        usage0 = await _usage(server)
        if p.profile:
            await server.call("profile_start")
        opts.say(
            f"sip: sipp places {p.calls} calls, {p.concurrent} at once, {p.rate:g}/s, "
            f"held {p.hold:g} s; {len(agents)} consoles answer and save logs"
        )
        sipp = await place_calls(
            lab["proxy_port"],
            run_dir / "sipp",
            [lab["extensions"][a] for a in agents],
            calls=p.calls,
            concurrency=p.concurrent,
            rate=p.rate,
            hold_ms=round(p.hold * 1000),
            caller="customer",
            max_seconds=p.sipp_timeout,
        )
        out["sipp"] = {
            "returncode": sipp.returncode,
            "successful": sipp.successful,
            "failed": sipp.failed,
            "log": str(sipp.log_path),
        }
        out["drain"] = await _drain(client, within=p.drain)
        out["usage"] = _usage_delta(usage0, await _usage(server))
        if p.profile:
            path = opts.logs / f"profile-sip-{time.strftime('%H%M%S')}.txt"
            await server.call("profile_stop", path=str(path), within=120)
            out["profile"] = str(path)
            opts.say(f"profile: {path}")
        seqs = (await server.call("seqs"))["seqs"]
        out["tail"] = await client.call("wait", seqs=seqs, timeout=15, within=30)
        st = await client.call("stats")
        out["usage"]["client_share"] = st["cpu_s"] / st["wall_s"] if st["wall_s"] else 0.0
        out["usage"]["client_cpu_s"] = st["cpu_s"]
        # Every event of every console (five per call), summarised: the raw values stay out.
        lat = st.pop("latency")
        st["latency_all_events"] = summarize(lat["values"], count=lat["n"], maximum=lat["max"])
        st.pop("rtt", None)
        out["stats"] = st
        seen = await client.call("report")
        db = await asyncio.to_thread(_logs_in_db, Path(lab["db"]))
        out["db"] = {"path": db["path"], "rows": len(db["rows"])}
        out["extensions"] = lab["extensions"]
        out["phones"] = lab["phones"]
        out["lab_restarts"] = (await server.call("lab_usage"))["restarts"]
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                await client.call("close", within=30)
            await client.stop()
        if server is not None:
            await server.stop(within=90)  # stops the lab: 100+ processes
        restore_affinity()
    out["server_log"] = {"path": str(server_log), **_scan_log(server_log)}
    truth = read_sipp_calls(run_dir / "sipp" / "calls.log")
    agent_of = {ext: agent for agent, ext in out["extensions"].items()}
    out.update(analyse(truth, seen, agent_of, db))
    out["problems"] = _problems(out, p)
    if not out["problems"] and not p.keep and not p.dir:
        shutil.rmtree(run_dir, ignore_errors=True)
    return out


async def run(args: argparse.Namespace, opts: Options) -> Report:
    p = SipLoadParams.from_args(args)
    rep = Report(
        NAME,
        "SIP load: sipp → kamailio → baresip → ctikit → consoles (/ANSWER, call logs)",
        COLUMNS,
    )
    res = await measure(p, opts)
    rep.add(_row(res), res)
    rep.notes += NOTES
    if res["problems"]:
        rep.notes.append(f"files kept for inspection: {res['dir']}")
    problems = "; ".join(res["problems"]) or "none"
    rep.targets.append(
        f"every call's begin/answered/end exactly once at the right console, every saved log "
        f"in the database, every SIP call completed: problems: {problems} — "
        f"{check(not res['problems'])}"
    )
    if res["problems"]:
        _emit(rep, args)
        raise SystemExit(1)
    return rep


def _emit(rep: Report, args: argparse.Namespace) -> None:
    """Print and save a failed run's report (``python -m bench`` would, had it returned)."""
    if not args.quiet:
        print(rep.markdown(), flush=True)
    if not args.no_save:
        path = rep.save()
        (RESULTS_DIR / f"latest-{NAME}.md").write_text(rep.markdown())
        print(f"(raw numbers: {path})", flush=True)


COLUMNS = [
    "agents x lines",
    "consoles",
    "calls ok / placed",
    "peak concurrent",
    "calls/s",
    "offered at→console p50/p95/p99/max ms",
    "answered at→console",
    "ended at→console",
    "INVITE→callBegin p50/p95/p99/max ms",
    "/ANSWER→connected",
    "BYE→callEnd",
    "lost",
    "dup",
    "wrong console",
    "logs in DB / saved",
    "server CPU",
    "client CPU",
    "phones + kamailio + sipp CPU-s",
    "load avg",
]
NOTES = [
    "at→console: from the event's `at` (server clock when CtiService applied the connector's "
    "event) to the frame's arrival at the console (same clock); INVITE/BYE→: from sipp "
    "sending it (sipp's gettimeofday) to the console; /ANSWER→connected: the console sends "
    "sendCTIMessage, the callUpdate with lineState connected comes back.",
    "lost/dup/wrong console count callBegin, callUpdate (connected) and callEnd per call "
    "against sipp's log of the calls it placed, plus gaps in each console's seq.",
    "calls/s: completed calls / (last BYE answered - first INVITE sent). Peak concurrent: "
    "calls begun and not ended at the consoles at the same time.",
]


def _row(res: dict[str, Any]) -> dict[str, Any]:
    p, lat, c = res["params"], res["latency"], res["counts"]
    usage = res["usage"]
    return {
        "agents x lines": f"{p['agents']} x {p['lines']}",
        "consoles": res["connect"]["opened"],
        "calls ok / placed": f"{c['completed']} / {c['placed']}",
        "peak concurrent": f"{res['peak_consoles']} (sipp {res['peak_sipp']})",
        "calls/s": res["calls_per_s"],
        "offered at→console p50/p95/p99/max ms": _fmt_lat(lat["offered_at_console"]),
        "answered at→console": _fmt_lat(lat["answered_at_console"]),
        "ended at→console": _fmt_lat(lat["ended_at_console"]),
        "INVITE→callBegin p50/p95/p99/max ms": _fmt_lat(lat["invite_to_console"]),
        "/ANSWER→connected": _fmt_lat(lat["answer_round_trip"]),
        "BYE→callEnd": _fmt_lat(lat["bye_to_console"]),
        "lost": res["lost"]["total"],
        "dup": res["dup"]["total"],
        "wrong console": res["wrong_console"],
        "logs in DB / saved": f"{res['logs']['in_db']} / {res['logs']['saved']}",
        "server CPU": f"{usage['server_cpu_s']:.1f} s ({usage['server_share']:.0%})",
        "client CPU": f"{usage['client_share']:.0%}",
        "phones + kamailio + sipp CPU-s": (
            f"{usage['phones_cpu_s']:.1f} + {usage['kamailio_cpu_s']:.1f} "
            f"+ {usage['sipp_cpu_s']:.1f}"
        ),
        "load avg": sysinfo.loadavg(),
    }


def _fmt_lat(s: dict[str, Any]) -> str:
    if not s["n"]:
        return "n/a"
    return " / ".join(_num(s[k]) for k in ("p50", "p95", "p99", "max"))


def _num(v: float) -> str:
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


# ================================================================= the analysis


def analyse(
    truth: dict[str, SippCall],
    seen: dict[str, Any],
    agent_of: dict[str, str],
    db: dict[str, Any],
) -> dict[str, Any]:
    """Compare what the consoles saw (``seen``, the client's ``report``) with the calls sipp
    placed (``truth``) and the database's call logs (``db``)."""
    by_call: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in seen["calls"]:
        by_call[rec["id"]].append(rec)
    lost: Counter[str] = Counter()
    dup: Counter[str] = Counter()
    counts: Counter[str] = Counter(placed=len(truth))
    wrong = 0
    lat: dict[str, list[float]] = defaultdict(list)
    per_agent: Counter[str] = Counter()
    for cid, call in truth.items():
        right = agent_of.get(call.number)
        recs = by_call.pop(cid, [])
        mine = [r for r in recs if r["agent"] == right]
        wrong += sum(_events(r) for r in recs if r["agent"] != right)
        rec = mine[0] if mine else None
        n = {k: rec[k] if rec else 0 for k in CALL_EVENTS}
        for k in CALL_EVENTS:
            dup[k] += max(0, n[k] - 1)
        if call.completed:
            counts["completed"] += 1
            per_agent[right or "?"] += 1
            for k in CALL_EVENTS:
                lost[k] += n[k] == 0
        else:
            counts["failed"] += 1
            if call.refused:  # 486: every line of the agent busy
                counts["refused"] += 1
            if call.bye_failed:
                counts["bye_failed"] += 1
            lost["end"] += n["begin"] > 0 and n["end"] == 0  # seen to begin: must end
        if rec is None or not call.completed:
            continue
        if rec["begin"]:
            lat["offered_at_console"].append(rec["begin_rx"] - rec["begin_at"])
            lat["invite_to_console"].append(rec["begin_rx"] - call.invite_sent)
            lat["invite_to_at"].append(rec["begin_at"] - call.invite_sent)
        if rec["answered"]:
            lat["answered_at_console"].append(rec["ans_rx"] - rec["ans_at"])
            if rec["answer_sent"]:
                lat["answer_round_trip"].append(rec["ans_rx"] - rec["answer_sent"])
                lat["answer_sent_to_sip_200"].append(call.ok_received - rec["answer_sent"])
            if rec["begin"]:
                lat["offered_to_answered_at_console"].append(rec["ans_rx"] - rec["begin_rx"])
        if rec["end"]:
            lat["ended_at_console"].append(rec["end_rx"] - rec["end_at"])
            lat["bye_to_console"].append(rec["end_rx"] - call.bye_sent)
            lat["bye_to_at"].append(rec["end_at"] - call.bye_sent)
        if rec["save_rx"]:
            lat["save_round_trip"].append(rec["save_rx"] - rec["save_sent"])
    unknown = sum(_events(r) for recs in by_call.values() for r in recs)  # calls sipp never made
    saved = {(r["agent"], r["id"], r["log_id"]) for r in seen["calls"] if r["log_id"]}
    rows = {(a, c, i) for i, a, c in db["rows"]}
    done = [c for c in truth.values() if c.completed]
    span = (
        max(c.bye_answered or 0.0 for c in done) - min(c.invite_sent for c in done) if done else 0.0
    )
    return {
        "counts": dict(counts),
        "lost": {**dict(lost), "total": sum(lost.values()) + seen["seq_lost"]},
        "seq_lost": seen["seq_lost"],
        "dup": {**dict(dup), "total": sum(dup.values()) + seen.get("seq_dup", 0)},
        "wrong_console": wrong + unknown,
        "unknown_call_events": unknown,
        "calls_per_agent": {
            "min": min(per_agent.values(), default=0),
            "max": max(per_agent.values(), default=0),
        },
        "calls_per_s": len(done) / span if span > 0 else float("nan"),
        "span_s": span,
        "peak_consoles": seen["peak_active"],
        "peak_sipp": _peak([(c.invite_sent, c.bye_answered) for c in done]),
        "latency": {k: _summary(lat.get(k, [])) for k in LATENCIES},
        "logs": {
            "saved": len(saved),
            "in_db": len(saved & rows),
            "missing": len(saved - rows),
            "other_rows": len(rows - saved),
            "save_failures": seen["save_failures"],
            "ended_without_log": sum(1 for r in seen["calls"] if r["end"] and not r["log_id"]),
        },
        "answer_failures": seen["answer_failures"],
        "errors": seen["errors"][:20],
        "other_events": seen["other_events"],
    }


LATENCIES = (
    "offered_at_console",
    "answered_at_console",
    "ended_at_console",
    "invite_to_console",
    "answer_round_trip",
    "bye_to_console",
    "invite_to_at",
    "bye_to_at",
    "answer_sent_to_sip_200",
    "offered_to_answered_at_console",
    "save_round_trip",
)


def _events(rec: dict[str, Any]) -> int:
    return int(rec["begin"] + rec["answered"] + rec["end"] + rec["updates"])


def _summary(seconds: list[float]) -> dict[str, Any]:
    ms = sorted(v * 1000.0 for v in seconds)
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "p50": round(percentile(ms, 0.50), 3),
        "p95": round(percentile(ms, 0.95), 3),
        "p99": round(percentile(ms, 0.99), 3),
        "max": round(ms[-1], 3),
        "min": round(ms[0], 3),
    }


def _peak(spans: list[tuple[float, float | None]]) -> int:
    edges = sorted(
        [(a, 1) for a, b in spans if b is not None] + [(b, -1) for a, b in spans if b is not None]
    )
    peak = now = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


def _problems(res: dict[str, Any], p: SipLoadParams) -> list[str]:
    out = []
    c, sipp = res["counts"], res["sipp"]
    if res["lost"]["total"]:
        out.append(f"lost events {res['lost']}")
    if res["dup"]["total"]:
        out.append(f"duplicated events {res['dup']}")
    if res["wrong_console"]:
        out.append(f"{res['wrong_console']} events at the wrong console")
    logs = res["logs"]
    if logs["missing"] or logs["save_failures"] or logs["ended_without_log"]:
        out.append(f"call logs {logs}")
    if c.get("completed", 0) != p.calls or sipp["failed"] or sipp["returncode"]:
        out.append(
            f"sipp: {c.get('completed', 0)} of {p.calls} calls completed, "
            f"{c.get('refused', 0)} refused, {c.get('bye_failed', 0)} BYEs refused "
            f"(rc {sipp['returncode']}, failed "
            f"{sipp['failed']}; {sipp['log']})"
        )
    if res["answer_failures"]:
        out.append(f"{res['answer_failures']} /ANSWER refused")
    if res["tail"]["missing"]:
        out.append(f"{res['tail']['missing']} events never reached a console")
    if res["stats"]["lost_sockets"]:
        out.append(f"{res['stats']['lost_sockets']} console sockets dropped")
    if res["lab_restarts"]:
        out.append(f"{res['lab_restarts']} baresip restarts")
    trouble = {k: v for k, v in res["other_events"].items() if k in ("callFailed", "lineStatus")}
    if trouble:
        out.append(f"telephony trouble at the consoles: {trouble}")
    return out


def _logs_in_db(path: Path) -> dict[str, Any]:
    """Every call log row, read straight from the SQLite file (read-only)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        rows = con.execute("SELECT id, agent_id, call_id FROM call_logs").fetchall()
    finally:
        con.close()
    return {"path": str(path), "rows": [list(r) for r in rows]}


def _scan_log(path: Path) -> dict[str, Any]:
    """Warnings and errors the server logged, by message (first 80 characters)."""
    found: Counter[str] = Counter()
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return {}
    for line in text.splitlines():
        for level in (" WARNING ", " ERROR ", " CRITICAL "):
            if level in line:
                found[line.split(": ", 1)[-1][:80]] += 1
    return {"warnings_and_errors": sum(found.values()), "top": dict(found.most_common(10))}


# ============================================================ the orchestrator


def _float_over_all_cores() -> Callable[[], None]:
    """Let this process (and what it starts: sipp) use every core; return the undo."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, range(os.cpu_count() or 1))
    return lambda: os.sched_setaffinity(0, before)


async def _spawn(
    name: str, role: str, args: list[str], log_path: Path, *, within: float = 60
) -> Child:
    """Start a child of this scenario (``role``: server or client), like ``Child.start``,
    except that a server that does not get ready is sent SIGTERM first (it then stops the
    lab's processes, which a SIGKILL would leave behind)."""
    with log_path.open("ab") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD_CODE,
            role,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            limit=LINE_LIMIT,
            start_new_session=True,
            cwd=REPO_ROOT,
        )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), within)
    except TimeoutError:
        proc.send_signal(signal.SIGTERM)  # the server then stops its lab
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 30)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise ChildError(f"{name} did not start within {within}s (log: {log_path})") from None
    if not line:
        await proc.wait()
        tail = (await asyncio.to_thread(log_path.read_text, errors="replace"))[-3000:]
        raise ChildError(f"{name} exited at start (log: {log_path}):\n{tail}")
    return Child(name, proc, json.loads(line))


async def _usage(server: Child) -> dict[str, float]:
    lab = await server.call("lab_usage")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # sipp: the only child reaped
    return {
        "t": time.perf_counter(),
        "server": sysinfo.cpu_seconds(server.pid),
        "phones": lab["phones_cpu_s"],
        "kamailio": lab["kamailio_cpu_s"],
        "sipp": children.ru_utime + children.ru_stime,
    }


def _usage_delta(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    wall = b["t"] - a["t"]
    server = b["server"] - a["server"]
    return {
        "wall_s": wall,
        "server_cpu_s": server,
        "server_share": server / wall if wall else 0.0,
        "phones_cpu_s": b["phones"] - a["phones"],
        "kamailio_cpu_s": b["kamailio"] - a["kamailio"],
        "sipp_cpu_s": b["sipp"] - a["sipp"],
    }


async def _drain(client: Child, *, within: float) -> dict[str, Any]:
    """Wait until every call a console saw begin has ended there and every request it sent
    has its answer (sipp is done: only the last events are in flight)."""
    deadline = time.perf_counter() + within
    t0 = time.perf_counter()
    while True:
        prog = await client.call("progress")
        if prog["begun"] == prog["ended"] and not prog["pending"] and not prog["scheduled"]:
            break
        if time.perf_counter() > deadline:
            break
        await asyncio.sleep(0.1)
    return {**prog, "seconds": time.perf_counter() - t0}


# ========================================================= the server process


class SipBenchServer(CtikitServer):
    """ctikit under test with the SIP connector owning a fresh lab (``ctikit demo --sip``)."""

    name = "ctikit-sip"
    # Each agent's lines take calls side by side (a load of the connector, not a desk): a
    # second /ANSWER must not first hold the call the agent answered a moment before.
    hold_on_answer = False
    spec: argparse.Namespace  # --agents, --lines, --lab, --ready-timeout (set by child_main)

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        spec = self.spec
        self.extensions = {
            agent: str(FIRST_EXTENSION + i) for i, agent in enumerate(agent_ids(spec.agents))
        }
        self.connector = LabConnector.new(  # type: ignore[assignment]
            self.extensions,
            root=Path(spec.lab),
            lines=spec.lines,
            options=LabOptions(ring_timeout=30),
            ready_timeout=spec.ready_timeout,
        )

    async def start(self) -> None:
        # A SIGTERM (the orchestrator died) must stop the lab too: end the control loop.
        main = asyncio.current_task()
        assert main is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
        # The lab's processes inherit this process's core: let them float over all cores,
        # then pin every thread of ours back.
        pinned = os.sched_getaffinity(0)
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
        try:
            await super().start()
        finally:
            for tid in os.listdir("/proc/self/task"):
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(int(tid), pinned)

    async def cmd_lab(self, a: dict[str, Any]) -> dict[str, Any]:
        lab = self.connector.lab
        assert lab is not None
        return {
            "root": str(lab.plan.root),
            "proxy_port": lab.plan.proxy_port,
            "extensions": self.extensions,
            "phones": len(lab.plan.agent_phones()),
            "db": str(self.tmp / "bench.db"),
        }

    async def cmd_lab_usage(self, a: dict[str, Any]) -> dict[str, Any]:
        """CPU seconds so far of the lab's agent phones and of kamailio (all its workers)."""
        lab = self.connector.lab
        assert lab is not None
        groups = _cpu_by_process_group()
        phones = [p for p in lab.phones.values() if p.pid is not None]
        kam = lab.kamailio.pid if lab.kamailio is not None else None
        return {
            "phones_cpu_s": sum(groups.get(p.pid, 0.0) for p in phones),  # type: ignore[misc]
            "kamailio_cpu_s": groups.get(kam, 0.0) if kam is not None else 0.0,
            "restarts": sum(max(0, p.starts - 1) for p in lab.phones.values()),
        }


def _cpu_by_process_group() -> dict[int, float]:
    """user + system CPU seconds of every live process, summed per process group."""
    out: dict[int, float] = defaultdict(float)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        out[int(fields[2])] += (int(fields[11]) + int(fields[12])) / sysinfo.CLOCK_TICKS
    return out


# ======================================================= the consoles process


class _Frame(msgspec.Struct):
    type: str
    event: str = ""
    at: float = 0.0
    id: Any = None
    success: bool = True
    error: str | None = None
    logId: str | None = None  # the wire's name
    data: Any = None


_decode_frame = msgspec.json.Decoder(_Frame).decode
_encode = msgspec.json.Encoder().encode


class _Call:
    """What one console saw of one call (times: ``time.time()`` at arrival / ``at``)."""

    __slots__ = (
        "agent", "ans_at", "ans_rx", "answer_sent", "answered", "begin", "begin_at",
        "begin_rx", "end", "end_at", "end_rx", "id", "log_id", "save_rx", "save_sent",
        "updates",
    )  # fmt: skip

    def __init__(self, agent: str, call_id: str) -> None:
        self.agent, self.id = agent, call_id
        self.begin = self.answered = self.end = self.updates = 0
        self.begin_at = self.begin_rx = self.ans_at = self.ans_rx = 0.0
        self.end_at = self.end_rx = self.answer_sent = self.save_sent = self.save_rx = 0.0
        self.log_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


class AnsweringConsoles(LoadClient):
    """:class:`~bench.client.LoadClient` (seq checks, latency of every event) whose consoles
    also act as agents: ``/ANSWER`` every call offered, ``saveCallLog`` every call ended."""

    def reset(self) -> None:
        super().reset()
        self.calls: dict[tuple[str, str], _Call] = {}
        self.sent: dict[int, tuple[str, _Call]] = {}
        self.ids = itertools.count(1)
        self.active = self.peak_active = 0
        self.scheduled = 0
        self.answer_failures = self.save_failures = 0
        self.problems: list[str] = []
        self.other: Counter[str] = Counter()
        if not hasattr(self, "ring"):
            self.ring = self.wrap = 0.0

    def on_text(self, slot: Slot, payload: bytes, now: float) -> None:
        super().on_text(slot, payload, now)  # seq, lost/dup, at->arrival of every event
        try:
            fr = _decode_frame(payload)
        except msgspec.DecodeError:
            return
        if fr.type == "event":
            self._on_event(slot, fr, now)
        elif fr.type == "response" and isinstance(fr.id, int):
            self._on_response(fr, now)

    def _on_event(self, slot: Slot, fr: _Frame, now: float) -> None:
        name, data = fr.event, fr.data if isinstance(fr.data, dict) else {}
        cid = data.get("id")
        if name not in ("callBegin", "callUpdate", "callEnd") or not isinstance(cid, str):
            self.other[name] += 1
            return
        key = (slot.agent, cid)
        call = self.calls.get(key)
        if call is None:
            call = self.calls[key] = _Call(slot.agent, cid)
        if name == "callBegin":
            call.begin += 1
            if call.begin == 1:
                call.begin_at, call.begin_rx = fr.at, now
                self.active += 1
                self.peak_active = max(self.peak_active, self.active)
                message = f"/ANSWER?CALL_ID={quote(cid, safe='')}"
                self._later(self.ring, slot, "answer", call, op="sendCTIMessage", message=message)
        elif name == "callUpdate":
            line = (data.get("call") or {}).get("lineState")
            if line == "connected":
                call.answered += 1
                if call.answered == 1:
                    call.ans_at, call.ans_rx = fr.at, now
            else:
                call.updates += 1
        else:
            call.end += 1
            if call.end == 1:
                call.end_at, call.end_rx = fr.at, now
                self.active -= 1
                self._later(
                    self.wrap, slot, "save", call, op="saveCallLog", callId=cid,
                    subject="Inbound call", comments="bench: sip load", disposition="resolved",
                )  # fmt: skip

    def _later(self, delay: float, slot: Slot, kind: str, call: _Call, **body: Any) -> None:
        if delay <= 0:
            self._send(slot, kind, call, body)
            return
        self.scheduled += 1

        def fire() -> None:
            self.scheduled -= 1
            self._send(slot, kind, call, body)

        asyncio.get_running_loop().call_later(delay, fire)

    def _send(self, slot: Slot, kind: str, call: _Call, body: dict[str, Any]) -> None:
        if slot.sock is None or not slot.sock.open:
            self.problems.append(f"{kind} {call.id}: {slot.agent}'s socket is closed")
            return
        rid = next(self.ids)
        self.sent[rid] = (kind, call)
        if kind == "answer":
            call.answer_sent = time.time()
        else:
            call.save_sent = time.time()
        slot.sock.send(_encode({"id": rid, **body}))

    def _on_response(self, fr: _Frame, now: float) -> None:
        sent = self.sent.pop(fr.id, None)
        if sent is None:
            return
        kind, call = sent
        if not fr.success:
            if kind == "answer":
                self.answer_failures += 1
            else:
                self.save_failures += 1
            self.problems.append(f"{kind} {call.agent}/{call.id}: {fr.error}")
        elif kind == "save":
            call.log_id, call.save_rx = fr.logId, now

    async def cmd_arm(self, a: dict[str, Any]) -> dict[str, Any]:
        """Set the agents' delays: ``ring`` before /ANSWER, ``wrap`` before the log."""
        self.ring, self.wrap = float(a.get("ring", 0.0)), float(a.get("wrap", 0.0))
        return {}

    async def cmd_progress(self, a: dict[str, Any]) -> dict[str, Any]:
        return {
            "begun": sum(1 for c in self.calls.values() if c.begin),
            "ended": sum(1 for c in self.calls.values() if c.end),
            "pending": len(self.sent),
            "scheduled": self.scheduled,
        }

    async def cmd_report(self, a: dict[str, Any]) -> dict[str, Any]:
        return {
            "calls": [c.to_dict() for c in self.calls.values()],
            "peak_active": self.peak_active,
            "seq_lost": self.lost,
            "seq_dup": self.dup,
            "answer_failures": self.answer_failures,
            "save_failures": self.save_failures,
            "unanswered_requests": len(self.sent),
            "errors": self.problems[:50],
            "other_events": dict(self.other),
        }


async def _client_main() -> None:
    client = AnsweringConsoles()
    handlers = {name[4:]: getattr(client, name) for name in dir(client) if name.startswith("cmd_")}
    await serve_control(handlers, {"nofile": sysinfo.raise_nofile()})
    await client.cmd_close({"linger": 0.05})


def child_main() -> None:
    """Entry point of this scenario's children: ``server ...`` or ``client --cpu N``."""
    role, rest = sys.argv[1], sys.argv[2:]
    if role == "server":
        p = argparse.ArgumentParser(add_help=False)
        p.add_argument("--agents", type=int, required=True)
        p.add_argument("--lines", type=int, required=True)
        p.add_argument("--lab", required=True)
        p.add_argument("--ready-timeout", type=float, default=120.0)
        spec, rest = p.parse_known_args(rest)
        SipBenchServer.spec = spec
        sys.argv = ["bench-sip-server", *rest]
        run_server(SipBenchServer, "ctikit with the SIP connector (started by python -m bench sip)")
    elif role == "client":
        p = argparse.ArgumentParser()
        p.add_argument("--cpu")
        args = p.parse_args(rest)
        sysinfo.pin(args.cpu)
        asyncio.run(_client_main())
    else:
        raise SystemExit(f"unknown role {role!r}")
