"""What a scenario does to a rig: ring, send CTI commands, wait, and read what happened.

Commands go the way the server sends them: parsed, resolved against the registry the
connector's events built (:meth:`CallRegistry.resolve_command`), handed to
``Connector.execute``; :meth:`Session.cti` then waits for the command's outcome exactly as
the server's reply does (:mod:`ctikit.core.outcomes`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ctikit.connectors.base import ActionFailedError, Capability
from ctikit.core import telephony as tel
from ctikit.core.commands import Action, CtiCommand, parse
from ctikit.core.outcomes import DONE, Verdict, judge, needs_report

from .normal import describe, translation
from .rig import AGENTS, Rig

ANI = "+14155550123"
DNIS = "+18005550199"
DATA = {"account": "42"}

Mark = tuple[str, str]  # (agent, line): the first event of the agent described so


class Session:
    """One scenario's run on one rig."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.recorder = rig.recorder
        self._tr = translation(rig.numbers)
        self._ids: dict[str, str] = {}  # call ID -> c1, c2... (first appearance)
        self._scanned = 0

    # -------------------------------------------------------------- reading

    def _name(self, call_id: str) -> str:
        return self._ids.setdefault(call_id, f"c{len(self._ids) + 1}")

    def _scan(self) -> None:
        # Names follow the order calls appear in the recording, not the order asked.
        events = self.recorder.events
        for event in events[self._scanned :]:
            if isinstance(event, tel.CallOffered):
                self._name(event.call_id)
        self._scanned = len(events)

    def described(self) -> list[tuple[str, str]]:
        """Every event so far as (agent, line), in the order reported."""
        self._scan()
        return [(e.agent, describe(e, self._name, self._tr)) for e in self.recorder.events]

    def lines(self, agent: str, *, line_status: bool = False) -> list[str]:
        """``agent``'s events so far, as lines (LineStatus only if asked)."""
        return [
            line
            for who, line in self.described()
            if who == agent and (line_status or not line.startswith("line "))
        ]

    def index(self, mark: Mark) -> int:
        """Where the first event ``mark`` describes was reported; fails if it never was."""
        described = self.described()
        assert mark in described, f"{mark} never reported; got {described}"
        return described.index(mark)

    def call_id(self, name: str) -> str:
        """The connector's ID of the call named ``name`` (``"c1"``)."""
        self._scan()
        for cid, n in self._ids.items():
            if n == name:
                return cid
        raise AssertionError(f"no call {name} yet; calls: {self._ids}")

    # ------------------------------------------------------------- waiting

    async def seen(self, agent: str, start: str) -> str:
        """Wait until one of ``agent``'s lines starts with ``start``; return that line."""
        found: list[str] = []

        def cond() -> bool:
            found[:] = [ln for ln in self.lines(agent, line_status=True) if ln.startswith(start)]
            return bool(found)

        await self.rig.wait_until(
            cond, what=f"{agent}: {start!r} (so far: {self.lines(agent, line_status=True)})"
        )
        return found[0]

    async def finish(self) -> None:
        """Wait until no call is left on any line, then for stray events."""
        await self.rig.wait_until(
            lambda: self.recorder.active_calls() == 0,
            what=f"every call to end (so far: {self.described()})",
        )
        await self.rig.settle()

    # ------------------------------------------------------------- calls

    async def ring(
        self,
        agent: str = "agent1",
        *,
        ani: str = ANI,
        dnis: str = DNIS,
        data: dict[str, Any] | None = None,
    ) -> str:
        """A caller rings ``agent``; returns the call's name once it is offered."""
        cid = await self.rig.ring(agent, ani=ani, dnis=dnis, data=DATA if data is None else data)
        await self.rig.wait_until(
            lambda: any(
                isinstance(e, tel.CallOffered) and e.call_id == cid and e.agent == agent
                for e in self.recorder.events
            ),
            what=f"the offer of {cid!r} to {agent}",
        )
        return self._name(cid)

    async def caller_hangup(self, name: str) -> None:
        await self.rig.caller_hangup(self.call_id(name))

    async def far_end_hangup(self, name: str) -> None:
        await self.rig.far_end_hangup(self.call_id(name))

    async def heard(self, name: str, digits: str) -> None:
        """Wait until the far end of call ``name`` has received ``digits``."""
        cid = self.call_id(name)
        await self.rig.wait_until(
            lambda: self.rig.digits_heard(cid) == digits,
            what=f"the far end of {name} to hear {digits!r} (heard {self.rig.digits_heard(cid)!r})",
        )

    # ------------------------------------------------------------ commands

    def can(self, capability: Capability) -> bool:
        """Whether the connector offers ``capability`` (the server would ask the same)."""
        return capability in self.rig.connector.capabilities

    async def cti(self, agent: str, message: str) -> Verdict:
        """Send a CTI command as the server does and wait for its outcome."""
        cmd = parse(message)
        assert cmd is not None, message
        action = self.recorder.registry.resolve_command(agent, cmd)
        mark = len(self.recorder.core)  # events reported during execute count
        await self.rig.connector.execute(action)
        if not needs_report(action.action):
            return DONE
        verdicts: list[Verdict] = []

        def decided() -> bool:
            for event in self.recorder.core[mark:]:
                if (verdict := judge(action, event)) is not None:
                    verdicts.append(verdict)
                    return True
            return False

        await self.rig.wait_until(decided, what=f"the outcome of {agent}'s {message}")
        return verdicts[0]

    async def ok(self, agent: str, message: str) -> None:
        verdict = await self.cti(agent, message)
        assert verdict.ok, f"{agent}'s {message} failed: {verdict.reason}"

    async def fails(self, agent: str, message: str) -> str:
        verdict = await self.cti(agent, message)
        assert not verdict.ok and verdict.reason, f"{agent}'s {message} did not fail"
        return verdict.reason

    def start(self, agent: str, message: str) -> asyncio.Task[Verdict]:
        """:meth:`cti` in the background, for a command whose outcome needs another step."""
        return asyncio.get_running_loop().create_task(self.cti(agent, message))

    async def refuses(self, agent: str, action: Action, name: str) -> None:
        """The connector refuses ``action`` on call ``name`` (as handed to it directly: the
        registry would have refused it first) and reports nothing for it."""
        before = len(self.recorder.events)
        act = tel.ConnectorAction(
            agent=agent,
            action=action,
            call_id=self.call_id(name),
            number=self.rig.numbers.answers
            if action in (Action.TRANSFER, Action.CONSULT)
            else None,
            digits="1" if action is Action.DTMF else None,
        )
        with pytest.raises(ActionFailedError):
            await self.rig.connector.execute(act)
        assert self.recorder.events[before:] == [], f"/{action} on {name} reported events"

    async def hang_up_all(self, agent: str) -> None:
        """Hang up whatever calls ``agent`` still has (a scenario whose outcome differs)."""
        for call_id in self.recorder.registry.call_ids(agent):
            await self.ok(agent, CtiCommand(action=Action.HANGUP, call_id=call_id).to_message())


__all__ = ["AGENTS", "ANI", "DATA", "DNIS", "Mark", "Session"]
