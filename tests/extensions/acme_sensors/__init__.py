"""A third-party janitoo extension, as janitoo_db's tests see one."""
