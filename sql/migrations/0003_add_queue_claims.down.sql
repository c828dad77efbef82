-- 0003 add_queue_claims (down): drops only what 0003 added.
-- Every statement tolerates an object that is already gone (IF EXISTS, down
-- to the table itself), so that on a database whose enterprise schema was
-- dropped, `wdh migrate down --all --yes && wdh migrate up` rebuilds it.
DROP INDEX IF EXISTS enterprise.idx_enrichment_requests_claimed;
DROP INDEX IF EXISTS enterprise.idx_enrichment_requests_ready;
ALTER TABLE IF EXISTS enterprise.enrichment_requests
    DROP COLUMN IF EXISTS worker_id,
    DROP COLUMN IF EXISTS claimed_at,
    DROP COLUMN IF EXISTS next_retry_at;
