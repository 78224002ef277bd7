"""Running a migration: the lock, the loop our env.py runs, interrupted runs, journals and checksums."""
