"""Settings of the simulator: how long simulated phones take, and who answers which extension."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ...core.commands import NUMBER_RE
from ...core.model import check_agent_id


@dataclass(frozen=True, slots=True, kw_only=True)
class SimTimings:
    """Delays (seconds) of the simulated phone network.

    The defaults are those of a SIP PBX on a LAN with a carrier behind it: a request that only
    needs one round trip (re-INVITE for hold, BYE, the 200 OK of an answer) takes about a tenth
    of a second; a carrier rejection (486, 404, 603) comes back in about half a second; a
    ringing call is given up after 30 s, the usual no-answer timer of PBXs and queues.
    ``far_end_answer`` is deliberately short (a real person takes 5 to 15 s) so demos move on.
    """

    answer_delay: float = 0.15  # agent presses answer -> 200 OK/ACK done, media flowing
    hold_delay: float = 0.1  # re-INVITE (sendonly) round trip
    retrieve_delay: float = 0.1  # re-INVITE (sendrecv) round trip
    hangup_delay: float = 0.1  # BYE -> 200 OK
    far_end_answer: float = 1.5  # an outbound call is answered by the far end
    ring_timeout: float = 30.0  # nobody answers: the caller (or the PBX) gives up
    reject_delay: float = 0.5  # busy / not found / declined come back from the carrier
    transfer_delay: float = 0.2  # REFER -> 202 Accepted -> NOTIFY

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"SimTimings.{f.name} must be a number of seconds")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"SimTimings.{f.name} must be finite and >= 0 (got {value})")

    def scaled(self, factor: float) -> SimTimings:
        """Every delay multiplied by ``factor`` (``0.01`` makes a test run 100 times faster)."""
        return SimTimings(
            **{f.name: getattr(self, f.name) * factor for f in dataclasses.fields(self)}
        )


class Directory:
    """Which agent answers which extension (``agent1`` <-> ``"1001"``).

    A number dialled or transferred to is looked up as an extension first, then as an agent
    ID; anything else is an external number.
    """

    def __init__(self, extensions: Mapping[str, str] | None = None) -> None:
        """``extensions`` maps extension -> agent ID."""
        self._agent_by_ext: dict[str, str] = {}
        self._ext_by_agent: dict[str, str] = {}
        for ext, agent in (extensions or {}).items():
            self.add(agent, ext)

    @classmethod
    def numbered(cls, agents: Iterable[str], first: int = 1001) -> Directory:
        """Give ``agents`` consecutive extensions from ``first`` on."""
        return cls({str(first + i): agent for i, agent in enumerate(agents)})

    def add(self, agent: str, extension: str) -> None:
        """Give ``agent`` the extension; raises ValueError if either is taken or malformed."""
        check_agent_id(agent)
        if not isinstance(extension, str) or not NUMBER_RE.match(extension):
            raise ValueError(f"extension {extension!r} is not a dialable number")
        if extension in self._agent_by_ext:
            raise ValueError(
                f"extension {extension} already belongs to {self._agent_by_ext[extension]}"
            )
        if agent in self._ext_by_agent:
            raise ValueError(f"agent {agent} already has extension {self._ext_by_agent[agent]}")
        self._agent_by_ext[extension] = agent
        self._ext_by_agent[agent] = extension

    def agent_for(self, number: str) -> str | None:
        """The agent reached by dialling ``number`` (an extension or agent ID), else None."""
        agent = self._agent_by_ext.get(number)
        if agent is None and number in self._ext_by_agent:
            agent = number
        return agent

    def extension_of(self, agent: str) -> str | None:
        return self._ext_by_agent.get(agent)

    def agents(self) -> list[str]:
        """Agents with an extension, in the order they were added."""
        return list(self._ext_by_agent)

    def __repr__(self) -> str:
        return f"Directory({self._agent_by_ext!r})"
