"""Every connector, every scenario: the same telephony events as the simulator, except where
the table of known differences says otherwise (and why)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import RIGS
from .differences import DIFFERENCES, as_markdown, expected_for
from .rig import AGENTS, Rig
from .scenarios import SCENARIOS, Scenario
from .scenarios import as_markdown as scenarios_markdown
from .session import Session

DOC = Path(__file__).resolve().parents[3] / "docs" / "connectors.md"


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=lambda s: s.name)
async def test_connector_gives_the_reference_events(rig: Rig, scenario: Scenario) -> None:
    s = Session(rig)
    await scenario.script(s)
    await s.finish()
    want = expected_for(rig.name, scenario.name)
    got = {agent: tuple(s.lines(agent, line_status=scenario.line_status)) for agent in AGENTS}
    assert got == want.events, f"{rig.name}: {scenario.title}"
    for first, then in want.order:
        assert s.index(first) < s.index(then), f"{rig.name}: {first} should come before {then}"
    assert not rig.recorder.errors, f"the registry refused: {rig.recorder.errors}"


def test_every_difference_names_a_rig_and_a_scenario_and_changes_something() -> None:
    seen = set()
    for row in DIFFERENCES:
        assert row.connector in RIGS and row.connector != "sim", row  # sim is the reference
        assert row.scenario in SCENARIOS, row
        assert (row.connector, row.scenario) not in seen, f"two rows for {row.scenario}"
        seen.add((row.connector, row.scenario))
        assert row.what and row.why and "|" not in row.what + row.why
        reference = SCENARIOS[row.scenario].reference
        assert expected_for(row.connector, row.scenario) != reference, f"stale row: {row}"
        assert set(row.events) <= set(AGENTS)


@pytest.mark.parametrize(
    ("marker", "table"), [("scenarios", scenarios_markdown), ("differences", as_markdown)]
)
def test_the_docs_show_the_scenarios_and_the_differences(
    marker: str, table: Callable[[], str]
) -> None:
    text = DOC.read_text()
    found = re.search(rf"<!-- {marker}:begin -->\n(.*?)<!-- {marker}:end -->", text, re.S)
    assert found, f"docs/connectors.md lacks the {marker} markers"
    assert found.group(1) == table(), (
        f"docs/connectors.md's {marker} differ from the suite's; paste this between the "
        f"markers:\n{table()}"
    )
