"""The rigs the conformance suite runs on: one per connector (see docs/connectors.md,
"Conformance", to add one)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from .rig import Rig
from .rigs.sim import sim_rig
from .rigs.sip import sip_rig

RigFactory = Callable[[Path], AbstractAsyncContextManager[Rig]]

#: connector name -> (how to make its rig, pytest marks of its tests)
RIGS: dict[str, tuple[RigFactory, tuple[pytest.MarkDecorator, ...]]] = {
    "sim": (sim_rig, ()),
    "sip": (sip_rig, (pytest.mark.sip,)),
}


@pytest.fixture(params=[pytest.param(name, marks=marks) for name, (_, marks) in RIGS.items()])
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    """A started connector and its network, fresh for each test."""
    make, _ = RIGS[request.param]
    async with make(tmp_path) as started:
        assert started.name == request.param
        yield started
