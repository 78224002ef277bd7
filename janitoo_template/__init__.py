"""janitoo_template: the example extension of the janitoo_db tutorial."""
