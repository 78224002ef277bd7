"""A small Flask web manager laid out like janitoo_manager, the original's web front end.

Its models subclass janitoo_db's core models *and* Flask-SQLAlchemy's
``db.Model`` (``user/models.py``, ``management/models.py``), the way
janitoo_manager declared its users, groups and settings.  It is this
project's own code, written to that layout: tests/test_original_callers.py
runs it (through ``run_manager.py``) in a process of its own, against each
database.
"""
