"""A bystander agent for the attack suite, in a process of its own (so the attack's own work
in the test process does not slow what it measures): it logs in, opens its console socket and
keeps working while an attack runs.

    python bystander.py URL USER PASSWORD SOURCE_ADDRESS

Every 20 ms it sends a ``ping`` on its console socket and waits for the answer; every 20 ms
it also reads its calls over REST (a kept-alive connection). It prints ``ready`` once its socket is
open, then obeys one command per line on stdin: ``reset`` (forget the samples so far),
``report`` (print one JSON line: latency percentiles in ms and errors since the last reset),
``quit``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from typing import Any

import aiohttp

PING_EVERY = 0.02
REST_EVERY = 0.02
TIMEOUT = 10.0


class Samples:
    def __init__(self) -> None:
        self.ws: list[float] = []
        self.rest: list[float] = []
        self.errors: list[str] = []

    def reset(self) -> None:
        self.ws.clear()
        self.rest.clear()
        self.errors.clear()

    def report(self) -> dict[str, Any]:
        return {
            "ws": _stats(self.ws),
            "rest": _stats(self.rest),
            "errors": self.errors[:20],
            "error_count": len(self.errors),
        }


def _stats(ms: list[float]) -> dict[str, float | int]:
    if not ms:
        return {"n": 0, "p50": 0.0, "p99": 0.0, "max": 0.0}
    s = sorted(ms)
    return {
        "n": len(s),
        "p50": round(s[len(s) // 2], 2),
        "p99": round(s[min(len(s) - 1, int(len(s) * 0.99))], 2),
        "max": round(s[-1], 2),
    }


async def _pinger(ws: aiohttp.ClientWebSocketResponse, samples: Samples) -> None:
    ids = itertools.count(1)
    while True:
        rid = next(ids)
        started = time.perf_counter()
        try:
            await ws.send_str(json.dumps({"id": rid, "op": "ping"}))
            while True:
                msg = await ws.receive(timeout=TIMEOUT)
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    raise ConnectionError(f"socket closed: {msg.type.name} {msg.data!r}")
                frame = json.loads(msg.data)
                if frame.get("type") == "response" and frame.get("id") == rid:
                    break
            if not frame.get("success"):
                samples.errors.append(f"ping refused: {frame}")
            samples.ws.append((time.perf_counter() - started) * 1000)
        except (TimeoutError, ConnectionError, aiohttp.ClientError) as exc:
            samples.errors.append(f"ping: {exc!r}")
            samples.ws.append((time.perf_counter() - started) * 1000)
            if ws.closed:
                return
        await asyncio.sleep(PING_EVERY)


async def _rester(
    session: aiohttp.ClientSession, url: str, token: str, agent: str, samples: Samples
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    while True:
        started = time.perf_counter()
        try:
            async with session.get(
                f"{url}/api/agents/{agent}/calls",
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=TIMEOUT),
            ) as r:
                await r.read()
                if r.status != 200:
                    samples.errors.append(f"rest: HTTP {r.status}")
        except (TimeoutError, aiohttp.ClientError) as exc:
            samples.errors.append(f"rest: {exc!r}")
        samples.rest.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(REST_EVERY)


async def main(url: str, user: str, password: str, address: str) -> None:
    connector = aiohttp.TCPConnector(local_addr=(address, 0), limit=4)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.post(
            f"{url}/api/login", json={"username": user, "password": password}
        ) as r:
            body = await r.json()
        if not body.get("success"):
            print(f"login failed: {body}", flush=True)
            return
        token, agent = body["token"], body["agent"]
        ws = await session.ws_connect(f"{url}/ws?agent={agent}&token={token}", heartbeat=None)
        hello = await ws.receive_json(timeout=TIMEOUT)
        assert hello["type"] == "hello", hello
        samples = Samples()
        tasks = [
            asyncio.create_task(_pinger(ws, samples)),
            asyncio.create_task(_rester(session, url, token, agent, samples)),
        ]
        print("ready", flush=True)
        while True:
            line = (await asyncio.to_thread(sys.stdin.readline)).strip()
            if line == "reset":
                samples.reset()
                print("ok", flush=True)
            elif line == "report":
                print(json.dumps(samples.report()), flush=True)
            else:  # "quit" or stdin closed
                break
        for t in tasks:
            t.cancel()
        await ws.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
