"""The migration runner: versioned SQL files, a checksummed history, an advisory lock."""

# Seconds `up`, `down`, `baseline` and `repair` wait for another run's lock
# (here, not in runner.py, so the CLI reads it without importing psycopg).
DEFAULT_LOCK_TIMEOUT = 60.0
