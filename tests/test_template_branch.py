"""janitoo_template's branch, checked with janitoo_db's own pytest plugin, as an extension author would."""
from __future__ import annotations

import pytest

from janitoo_db.testing import *  # noqa: F401,F403  (the ready-made branch checks)


@pytest.fixture
def janitoo_branch() -> str:
    return "janitoo_template"
