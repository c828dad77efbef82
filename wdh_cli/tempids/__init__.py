"""Temporary IDs for names no layer resolves: HMAC (default) or sequential."""
