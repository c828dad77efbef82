-- 0003 add_queue_claims
-- What the enrichment queue needs beyond 0001: when a row may be tried
-- again, and who claimed it when (to take back rows of a worker that died).
-- Idempotent.

ALTER TABLE enterprise.enrichment_requests
    ADD COLUMN IF NOT EXISTS next_retry_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS claimed_at    TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS worker_id     VARCHAR(100);

-- The claim query: pending rows whose retry time has come, oldest first.
-- Partial, so done and failed rows (the bulk of the table over time) cost
-- nothing; its columns are the claim's ORDER BY, so LIMIT stops early.
CREATE INDEX IF NOT EXISTS idx_enrichment_requests_ready
    ON enterprise.enrichment_requests (next_retry_at, id)
    WHERE status = 'pending';

-- Stale detection: rows in processing claimed before a cut-off.
CREATE INDEX IF NOT EXISTS idx_enrichment_requests_claimed
    ON enterprise.enrichment_requests (claimed_at)
    WHERE status = 'processing';
