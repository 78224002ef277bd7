"""The tests' own third-party extension, whose branch depends on a core revision, through the plugin."""
from __future__ import annotations

import pytest

from janitoo_db.testing import *  # noqa: F401,F403  (the ready-made branch checks)


@pytest.fixture
def janitoo_branch() -> str:
    return "acme_sensors"
