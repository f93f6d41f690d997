"""Settings of the simulator: how long simulated phones take, and who answers which extension."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..directory import Directory


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


__all__ = ["Directory", "SimTimings"]
