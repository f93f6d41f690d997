"""Who answers which extension: shared by every connector that routes by extension."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..core.commands import NUMBER_RE
from ..core.model import check_agent_id


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
