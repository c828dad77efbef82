-- 0003 add_queue_claims (down): drops only what 0003 added.
DROP INDEX IF EXISTS enterprise.idx_enrichment_requests_claimed;
DROP INDEX IF EXISTS enterprise.idx_enrichment_requests_ready;
ALTER TABLE enterprise.enrichment_requests
    DROP COLUMN IF EXISTS worker_id,
    DROP COLUMN IF EXISTS claimed_at,
    DROP COLUMN IF EXISTS next_retry_at;
