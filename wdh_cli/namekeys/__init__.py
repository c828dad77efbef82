"""Stored name keys and the rules version they were made with: the guard, rekey, check."""
