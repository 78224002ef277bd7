"""The models of the shared database: the core's and every installed extension's.

Importing this module runs each extension's ``extend(jntmodel)`` once, core
first, so ``janitoo_db.models.User`` and an extension's classes (say
``janitoo_db.models.Sensor``) are attributes of this module, as in the
original janitoo.  ``extension_tables`` maps each branch name to the tables
its ``extend`` registered on ``Base.metadata``.
"""
from __future__ import annotations

import sys

from janitoo_db.models.loading import load_models
from janitoo_db.site.extensions import discover

extension_tables: dict[str, tuple[str, ...]] = load_models(sys.modules[__name__], discover())
