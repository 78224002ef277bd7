"""Sphinx configuration of janitoo_db's documentation.

Build it with ``python -m sphinx -W -b html docs docs/_build/html``; ``-W``
turns every warning into an error, as CI does.  Nothing here needs the
network.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Document this checkout even when another janitoo_db is installed.
sys.path.insert(0, str(ROOT))

# Create every model class (the core's and each installed extension's) before
# autodoc looks at any class: documenting an attribute makes autodoc copy
# annotations it finds in the source, including SQLAlchemy's TYPE_CHECKING-only
# ones, into the classes' __annotations__, and declarative classes created
# after that fail to map.
import janitoo_db.models  # noqa: E402,F401
from janitoo_db import __version__  # noqa: E402

sys.path.insert(0, str(ROOT / "docs"))
import import_graph  # noqa: E402

project = "janitoo_db"
author = "janitoo_db contributors"
copyright = "janitoo_db contributors, GPL-3.0-or-later"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx_click",
    # operating.rst draws the example's revision graph from jnt_dbman graph's Mermaid text.
    "sphinxcontrib.mermaid",
]

# _generated/ holds fragments that pages include, written by setup() below.
exclude_patterns = ["_build", "_generated"]
root_doc = "index"
language = "en"
highlight_language = "none"

autodoc_member_order = "bysource"
# SQLAlchemy's own docstrings refer to labels of SQLAlchemy's documentation.
autodoc_inherit_docstrings = False
autodoc_typehints = "description"
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "alabaster"
html_title = f"janitoo_db {release}"
html_theme_options = {
    "description": "One SQL database shared by janitoo and its extensions",
    "fixed_sidebar": True,
}


def write_import_graph(app: Any) -> None:
    """Draw docs/_generated/imports.rst from the code, so architecture.rst shows what imports what today."""
    imports = import_graph.find_imports(ROOT / "janitoo_db")
    graph = import_graph.graph_of(import_graph.module_names(ROOT / "janitoo_db"), imports)
    text = import_graph.render_rst(graph, imports, root=ROOT) + "\n"
    target = ROOT / "docs" / "_generated" / "imports.rst"
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        target.parent.mkdir(exist_ok=True)
        target.write_text(text, encoding="utf-8")


def setup(app: Any) -> None:
    # builder-inited comes before Sphinx reads any page, so the include finds the fragment.
    app.connect("builder-inited", write_import_graph)
