"""The ``webrtc`` connector: each agent's console is the phone (SIP.js over WebSocket).

The server never speaks SIP here. Each agent's signed-in console gets the agent's SIP
account (``phoneSetup``), registers it at the operator's SIP server, and reports its SIP
dialogs (``phoneReport``); commands (answer, hold, dial...) go to that console as ``phone``
frames and it says when it did them (``phoneDone``). See docs/webrtc.md.

Of several consoles of one agent the first that asks is *the phone* (it registers); the
others follow (they show the calls and send commands like any console; the server routes
those to the phone). When the phone's socket goes, it has ``grace`` seconds to come back
(a reload, a dropped network) with the calls it still has; after that its calls are ended
("the agent's softphone went offline"), the line is down, and the next console of the agent
is asked to become the phone.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...core.commands import Action
from ...core.telephony import ConnectorAction, TelephonyEvent
from ..base import ActionFailedError, Capability, EventSink
from ..directory import Directory
from .model import MAX_CALL_ID, ReportError, WebrtcModel

log = logging.getLogger(__name__)

OFFLINE = "the agent's softphone went offline"
NO_PHONE = "the agent's softphone is offline: open the agent's console"
#: Commands a phone is sent, by action (the console's word for each).
_COMMANDS: dict[Action, str] = {
    Action.ANSWER: "answer",
    Action.HANGUP: "hangup",
    Action.HOLD: "hold",
    Action.RETRIEVE: "retrieve",
    Action.MUTE: "mute",
    Action.UNMUTE: "unmute",
    Action.DTMF: "dtmf",
    Action.TRANSFER: "transfer",
    Action.DIAL: "dial",
}
#: Commands a phone has not said are done yet, per phone (more are refused).
MAX_PENDING = 16


@dataclass(frozen=True, slots=True, kw_only=True)
class SipAccount:
    """An agent's SIP account at the operator's server (docs/configuration.md)."""

    extension: str
    password: str


Send = Callable[[dict[str, Any]], None]


class PhoneLink:
    """One console socket of an agent (made by :meth:`WebrtcConnector.attach`)."""

    __slots__ = ("agent", "alive", "pending", "send")

    def __init__(self, agent: str, send: Send) -> None:
        self.agent = agent
        self.send = send
        self.alive = True
        self.pending: dict[int, asyncio.Future[str | None]] = {}


class WebrtcConnector:
    """Browser phones (implements ``Connector``); see the module docstring."""

    name = "webrtc"

    def __init__(
        self,
        accounts: Mapping[str, SipAccount],
        *,
        ws_url: str,
        domain: str,
        grace: float = 10.0,
        request_timeout: float = 8.0,
    ) -> None:
        self.accounts = dict(accounts)
        self.ws_url = ws_url
        self.domain = domain
        self.grace = grace
        self.request_timeout = request_timeout
        directory = Directory({a.extension: agent for agent, a in self.accounts.items()})
        self.model = WebrtcModel(directory)
        self._links: dict[str, list[PhoneLink]] = {}
        self._owner: dict[str, PhoneLink] = {}
        self._away: dict[str, asyncio.TimerHandle] = {}  # agents whose phone is in its grace
        self._refs = itertools.count(1)
        self._sink: EventSink | None = None

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset()

    # ----------------------------------------------------------------- Connector

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        for agent in self.accounts:
            self._report(self.model.line(agent, False, "no console is open"))

    async def stop(self) -> None:
        if self._sink is None:
            return
        for timer in self._away.values():
            timer.cancel()
        self._away.clear()
        for agent in self.model.agents():
            self._report(self.model.release_all(agent, "telephony stopped"))
        for links in self._links.values():
            for link in links:
                self._fail_pending(link, "telephony stopped")
        self._sink = None

    async def execute(self, action: ConnectorAction) -> None:
        """Send ``action`` to the agent's phone console and wait until it says it did it
        (the outcome itself comes as a report)."""
        owner = self._owner.get(action.agent)
        if self._sink is None:
            raise ActionFailedError("the webrtc connector is not running")
        if owner is None:
            raise ActionFailedError(NO_PHONE)
        verb = _COMMANDS.get(action.action)
        if verb is None:  # consult and conference: no capability claimed
            raise ActionFailedError(f"/{action.action}: not supported by this connector (webrtc)")
        command: dict[str, Any] = {"type": "phone", "cmd": verb}
        if action.action is Action.DIAL:
            if not action.number:
                raise ActionFailedError("/DIAL needs a NUMBER")
            command["number"] = action.number
        else:
            if self.model.find(action.agent, action.call_id) is None:
                raise ActionFailedError(f"call {action.call_id!r} is not on the agent's phone")
            command["callId"] = action.call_id
        if action.action is Action.DTMF:
            if not action.digits:
                raise ActionFailedError("/DTMF needs DIGITS")
            command["digits"] = action.digits
        if action.action is Action.TRANSFER:
            if not action.number:
                raise ActionFailedError("/TRANSFER needs a NUMBER")
            if action.number == self.accounts[action.agent].extension:
                raise ActionFailedError("cannot transfer a call to yourself")
            command["number"] = action.number
        error = await self._ask(owner, command)
        if error is not None:
            raise ActionFailedError(error)

    # ----------------------------------------------------------------- consoles

    def attach(self, agent: str, send: Send) -> PhoneLink:
        """A console socket of ``agent`` opened (its own, signed in; not a supervisor's)."""
        link = PhoneLink(agent, send)
        self._links.setdefault(agent, []).append(link)
        return link

    def detach(self, link: PhoneLink) -> None:
        """``link``'s socket closed."""
        link.alive = False
        links = self._links.get(link.agent, [])
        if link in links:
            links.remove(link)
        if not links:
            self._links.pop(link.agent, None)
        self._fail_pending(link, "the agent's console closed")
        if self._owner.get(link.agent) is link:
            del self._owner[link.agent]
            if self._sink is not None:
                loop = asyncio.get_running_loop()
                self._away[link.agent] = loop.call_later(self.grace, self._gone, link.agent)

    def setup(self, link: PhoneLink, calls: object) -> dict[str, Any]:
        """``phoneSetup``: make ``link`` the agent's phone if none is, and give it the SIP
        account; else it follows. ``calls``: the call IDs a returning phone still has (those
        the server no longer has are listed in ``drop``: the console hangs them up)."""
        agent = link.agent
        account = self.accounts.get(agent)
        if account is None:
            return {"role": "none", "reason": f"{agent} has no SIP account in the config"}
        owner = self._owner.get(agent)
        if owner is not None and owner is not link:
            return {"role": "follower"}
        self._owner[agent] = link
        kept = _call_ids(calls)
        drop = [c for c in kept if self.model.find(agent, c) is None]
        timer = self._away.pop(agent, None)
        if timer is not None:
            timer.cancel()
            # Back in time: calls the console no longer has are over.
            for call in self.model.calls(agent):
                if call.call_id not in kept:
                    self._report(self.model.release_all_of(agent, call.call_id, OFFLINE))
        return {
            "role": "phone",
            "drop": drop,
            "sip": {
                "server": self.ws_url,
                "domain": self.domain,
                "user": account.extension,
                "password": account.password,
            },
        }

    def report(self, link: PhoneLink, raw: object) -> None:
        """``phoneReport``: one SIP dialog event of the agent's phone. Raises
        :class:`ReportError` (for the console) if it is refused."""
        if self._owner.get(link.agent) is not link:
            raise ReportError("this console is not the agent's phone")
        self._report(self.model.report(link.agent, raw))

    def done(self, link: PhoneLink, ref: object, error: object) -> None:
        """``phoneDone``: the phone carried out command ``ref`` (or says why it could not)."""
        if not isinstance(ref, int) or isinstance(ref, bool):
            raise ReportError("ref must be the command's number")
        future = link.pending.pop(ref, None)
        if future is None:
            raise ReportError(f"no command {ref} is waiting")
        if not future.done():
            text = str(error)[:200] if error is not None else None
            future.set_result(text or ("failed" if error is not None else None))

    def role(self, link: PhoneLink) -> str:
        return "phone" if self._owner.get(link.agent) is link else "follower"

    # ----------------------------------------------------------------- internals

    async def _ask(self, link: PhoneLink, command: dict[str, Any]) -> str | None:
        if len(link.pending) >= MAX_PENDING:
            return "the agent's phone is busy with other commands"
        ref = next(self._refs)
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        link.pending[ref] = future
        link.send({**command, "ref": ref})
        try:
            return await asyncio.wait_for(future, self.request_timeout)
        except TimeoutError:
            return f"the agent's phone did not answer in {self.request_timeout:g} s"
        finally:
            link.pending.pop(ref, None)

    def _gone(self, agent: str) -> None:
        self._away.pop(agent, None)
        if agent in self._owner:
            return
        self._report(self.model.release_all(agent, OFFLINE))
        self._report(self.model.line(agent, False, OFFLINE))
        for link in self._links.get(agent, []):  # ask another console to take over
            link.send({"type": "phone", "cmd": "claim"})
            break

    def _fail_pending(self, link: PhoneLink, why: str) -> None:
        for future in link.pending.values():
            if not future.done():
                future.set_result(why)
        link.pending.clear()

    def _report(self, events: list[TelephonyEvent]) -> None:
        if self._sink is None:
            return
        for event in events:
            self._sink.report(event)


def _call_ids(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    return [c for c in value[:16] if isinstance(c, str) and 0 < len(c) <= MAX_CALL_ID]
