"""The enrichment queue: enqueue, drain (claim, ask, record), status and maintenance."""
