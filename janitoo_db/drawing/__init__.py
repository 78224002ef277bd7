"""Pictures of the revision graph: what ``jnt_dbman graph`` draws, as Mermaid, Graphviz DOT or SVG.

:mod:`~janitoo_db.drawing.lanes` decides what is drawn (one lane per branch,
long runs folded, where the database is, what a downgrade would take);
:mod:`~janitoo_db.drawing.formats` writes it in each format.
"""
