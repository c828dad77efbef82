-- 0004 add_provider_ledger (down): drops only what 0004 added.
DROP INDEX IF EXISTS enterprise.idx_enrichment_requests_name;
ALTER TABLE IF EXISTS enterprise.enrichment_requests
    DROP COLUMN IF EXISTS resolved_source,
    DROP COLUMN IF EXISTS last_seen_at,
    DROP COLUMN IF EXISTS rows_seen;
DROP TABLE IF EXISTS enterprise.provider_answers;
