"""Made-up but realistic callers for test calls that do not say who is calling."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

# The toll-free number customers dial (555-01xx numbers are reserved for fiction).
DEFAULT_DNIS = "+18005550199"

_ACCOUNTS = ("ACME", "GLOBEX", "INITECH", "UMBRELLA", "HOOLI", "WAYNE")
_REASONS = ("billing", "technical support", "new order", "delivery", "cancellation")
_LANGUAGES = ("en", "en", "en", "es", "fr")  # weighted: most callers choose English


@dataclass(frozen=True, slots=True, kw_only=True)
class Caller:
    ani: str
    dnis: str
    data: dict[str, Any] = field(default_factory=dict)


def random_caller(rng: random.Random) -> Caller:
    """A caller from a fictional San Francisco number with the answers an IVR collected."""
    # 555-0100..0199 are the only 555 numbers reserved for fiction, and none of them end in
    # a failure code (486, 404, 603, 408) if an agent dials one back.
    ani = f"+1415555{rng.randrange(100, 200):04d}"
    data = {
        "account": f"{rng.choice(_ACCOUNTS)}-{rng.randrange(1000, 10000)}",
        "reason": rng.choice(_REASONS),
        "language": rng.choice(_LANGUAGES),
        "verified": rng.random() < 0.7,
    }
    return Caller(ani=ani, dnis=DEFAULT_DNIS, data=data)
