"""Tools that read or rebuild a branch's history: adopt, take back, replay, squash, drift, hooks."""
