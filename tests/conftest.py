"""Suite-wide ordering."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Browser tests last: Playwright's sync API keeps its event loop marked running in the
    # main thread for the whole session (the browser fixture is session-scoped), which
    # would break every asyncio test collected after it.
    items.sort(key=lambda item: "tests/browser/" in str(item.path))
