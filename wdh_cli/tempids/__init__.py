"""Temporary IDs for names no layer resolves: HMAC (default) or sequential (docs/names.md).

`generator` holds the pure ID functions, `issuer` the policy (style, salt),
`repository` the sequence counter.
"""
