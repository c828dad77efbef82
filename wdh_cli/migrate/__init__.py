"""The migration runner: versioned SQL files, a checksummed history, an advisory lock."""
