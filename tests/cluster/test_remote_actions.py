"""Actions forwarded between cluster nodes keep every field, the consult link included."""

from __future__ import annotations

import json

import pytest

from ctikit.cluster.remote import action_from_dict, action_to_dict
from ctikit.core.commands import Action
from ctikit.core.telephony import ConnectorAction


def test_a_consult_action_crosses_nodes_whole() -> None:
    action = ConnectorAction(
        agent="agent1",
        action=Action.COMPLETE_TRANSFER,
        call_id="c2",
        held_call_id="c1",
        data={"account": "42"},
    )
    assert action_from_dict(json.loads(json.dumps(action_to_dict(action)))) == action


def test_a_held_call_id_that_is_not_text_is_refused() -> None:
    raw = action_to_dict(ConnectorAction(agent="agent1", action=Action.CONFERENCE, call_id="c2"))
    raw["held_call_id"] = 7
    with pytest.raises(ValueError, match="held_call_id must be a string"):
        action_from_dict(raw)
