"""Scenario 6, browser path: a call at the server -> ``onCallBegin`` in a component iframe.

Headless chromium (Debian's, through Playwright) opens the real console page from
``http://127.0.0.1:PORT`` with one component served from ``http://localhost:CPORT`` (another
origin, as in production; the component server proxies ``/support/`` to ctikit, as the browser
tests do). The component records when its ``onCallBegin`` handler runs, on the epoch clock;
the server records its time just before the call rings. The bare baseline, in the same run:
the aiohttp baseline server, a plain page with one WebSocket that posts each event to a
cross-origin iframe, whose message handler records the time.

Calls are placed one at a time (the next after the previous one reached the component).
Chromium runs on the client core, with the orchestrator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from ..harness import Options, Session
from ..report import Report, check
from ..stats import summarize
from ..sysinfo import loadavg

NAME = "browser"
HELP = "browser path: call at the server -> onCallBegin in a cross-origin component"
WEB = Path(__file__).resolve().parents[1] / "web"
CHROMIUM = "/usr/bin/chromium"
AGENT = "browser1"
WARMUP = 5
#: Records, in the console page, when each callBegin frame arrives from the WebSocket (before
#: the page's own handlers run), to split the path into server -> page and page -> component.
WS_TAP = """
(() => {
  if (window.top !== window) return;
  window.__wsSeen = {};
  const Native = window.WebSocket;
  window.WebSocket = function (url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    ws.addEventListener('message', (ev) => {
      const t = performance.timeOrigin + performance.now();
      if (typeof ev.data === 'string' && ev.data.indexOf('"callBegin"') >= 0) {
        try { window.__wsSeen[JSON.parse(ev.data).data.id] = t; } catch (e) {}
      }
    });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
})();
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--calls", type=int, default=200, help="calls measured per server")
    p.add_argument("--chromium", default=CHROMIUM)
    p.add_argument(
        "--js-profile",
        action="store_true",
        help="CPU-profile the console page (Chrome DevTools protocol) and list the "
        "JavaScript functions with the most self time",
    )
    p.add_argument(
        "--gap",
        type=float,
        default=0.15,
        help="seconds between a call reaching the component and the next call",
    )


class ComponentServer:
    """The component origin (localhost): bench/web/ files, and /support/ proxied to ctikit."""

    def __init__(self) -> None:
        self.upstream = ""
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/support/{tail:.*}", self._proxy)
        app.router.add_static("/", WEB)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        self.session = aiohttp.ClientSession()

    async def _proxy(self, request: web.Request) -> web.Response:
        assert self.session is not None
        async with self.session.get(self.upstream + request.path_qs) as r:
            return web.Response(body=await r.read(), status=r.status, content_type=r.content_type)

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self.runner is not None:
            await self.runner.cleanup()

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.port}"


async def _measure(
    page: Any,
    s: Session,
    frame_part: str,
    calls: int,
    gap: float,
) -> tuple[list[float], list[float]]:
    """Place ``calls`` calls one by one; return latencies (ms) server -> component and
    server -> console page (WebSocket message event)."""
    frame = None
    for _ in range(200):
        frame = next((f for f in page.frames if f.url.startswith(frame_part)), None)
        if frame is not None:
            break
        await asyncio.sleep(0.05)
    if frame is None:
        raise RuntimeError(f"no component frame {frame_part!r} in {[f.url for f in page.frames]}")
    await frame.wait_for_function("window.__ready === true", timeout=20_000)
    placed: dict[str, float] = {}
    for i in range(WARMUP + calls):
        r = await s.srv("place", agent=AGENT)
        cid = r["callId"]
        await frame.wait_for_function(
            f"window.__seen[{json.dumps(cid)}] !== undefined", timeout=10_000, polling=5
        )
        if i >= WARMUP:
            placed[cid] = r["t"]
        await s.srv("hangup", agent=AGENT, callId=cid)
        await asyncio.sleep(gap)
    seen: dict[str, float] = await frame.evaluate("window.__seen")
    ws_seen: dict[str, float] = await page.evaluate("window.__wsSeen || {}")
    return (
        [seen[c] - t * 1000.0 for c, t in placed.items()],
        [ws_seen[c] - t * 1000.0 for c, t in placed.items() if c in ws_seen],
    )


def js_hotspots(profile: dict[str, Any], n: int = 8) -> str:
    """The functions with the most self time in a DevTools CPU profile."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    deltas = profile.get("timeDeltas", [])
    self_us: dict[str, float] = {}
    for sample, dt in zip(profile.get("samples", []), deltas, strict=False):
        frame = nodes[sample]["callFrame"]
        url = frame.get("url", "").rsplit("/", 1)[-1]
        key = f"{frame.get('functionName') or '(anonymous)'} {url}:{frame.get('lineNumber', 0)}"
        self_us[key] = self_us.get(key, 0.0) + dt
    total = sum(self_us.values()) or 1.0
    busy = {k: v for k, v in self_us.items() if not k.startswith("(idle)")}
    top = sorted(busy.items(), key=lambda kv: -kv[1])[:n]
    return "; ".join(f"{k} {v / 1000:.0f} ms ({v / total:.0%})" for k, v in top)


async def run(args: argparse.Namespace, opts: Options) -> Report:
    from playwright.async_api import async_playwright

    rep = Report(
        NAME,
        "Browser path: call at the server -> onCallBegin in the component",
        [
            "server",
            "path",
            "calls",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "p50 vs bare",
            "server→page p50/p99 ms",
            "load avg",
        ],
    )
    comp = ComponentServer()
    await comp.start()
    results: dict[str, dict[str, Any]] = {}
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=args.chromium,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--disable-renderer-backgrounding",
                    "--disable-background-timer-throttling",
                ],
            )
            try:
                for target in ("ctikit", "aiohttp"):
                    if target not in args.targets:
                        continue
                    opts.say(f"browser: {target}, {args.calls} calls")
                    server_args = (
                        ["--component", f"bench={comp.origin}/component.html"]
                        if target == "ctikit"
                        else []
                    )
                    async with Session(opts, target, sockets=1, server_args=server_args) as s:
                        comp.upstream = f"http://127.0.0.1:{s.port}"
                        page = await browser.new_page()
                        await page.add_init_script(WS_TAP)
                        console: list[str] = []
                        note = console.append
                        page.on("console", lambda m, note=note: note(f"{m.type}: {m.text}"))
                        page.on("pageerror", lambda e, note=note: note(f"error: {e}"))
                        try:
                            if target == "ctikit":
                                url = f"http://127.0.0.1:{s.port}/console?agent={AGENT}"
                                part = f"{comp.origin}/component.html"
                            else:
                                url = (
                                    f"http://127.0.0.1:{s.port}/bare?agent={AGENT}"
                                    f"&component={comp.origin}/bare_component.html"
                                )
                                part = f"{comp.origin}/bare_component.html"
                            await page.goto(url)
                            cdp = None
                            if args.js_profile:
                                cdp = await page.context.new_cdp_session(page)
                                await cdp.send("Profiler.enable")
                                await cdp.send("Profiler.setSamplingInterval", {"interval": 200})
                                await cdp.send("Profiler.start")
                            lat, to_page = await _measure(page, s, part, args.calls, args.gap)
                            if cdp is not None:
                                prof = (await cdp.send("Profiler.stop"))["profile"]
                                top = js_hotspots(prof)
                                rep.notes.append(
                                    f"{target} console page, JS self time (top): {top}"
                                )
                        except Exception:
                            shot = opts.logs / f"browser-{target}.png"
                            await page.screenshot(path=str(shot))
                            opts.say(
                                f"browser: {target} failed; screenshot {shot}; console: "
                                + " | ".join(console[-20:])
                            )
                            raise
                        finally:
                            await page.close()
                    results[target] = summarize(lat)
                    results[target]["to_page"] = summarize(to_page)
            finally:
                await browser.close()
    finally:
        await comp.stop()
    bare = results.get("aiohttp", {}).get("p50")
    for target, summ in results.items():
        rep.add(
            {
                "server": target,
                "path": "ctikit console + integration.js"
                if target == "ctikit"
                else "bare page + postMessage",
                "calls": summ["n"],
                "p50 ms": summ["p50"],
                "p90 ms": summ["p90"],
                "p99 ms": summ["p99"],
                "max ms": summ["max"],
                "p50 vs bare": summ["p50"] / bare if bare else float("nan"),
                "server→page p50/p99 ms": f"{summ['to_page']['p50']} / {summ['to_page']['p99']}",
                "load avg": loadavg(),
            },
            {"target": target, **summ},
        )
    if "ctikit" in results and bare:
        c = results["ctikit"]
        r = c["p50"] / bare
        rep.targets.append(
            f"browser p50 <= 1.5 x bare: {r:.2f} — {check(r <= 1.5)}; "
            f"p99 {c['p99']} ms < 20 — {check(c['p99'] < 20)}"
        )
    return rep
