-- 0001 create_enterprise_schema (down)
-- Drops only what 0001 created: indexes, then tables (their SERIAL sequences
-- go with them), and the schema only when nothing else is left in it. No
-- CASCADE anywhere: an object of someone else's must make this fail loudly or
-- be left alone, never be dropped silently.

DROP INDEX IF EXISTS enterprise.idx_enrichment_requests_normalized;
DROP INDEX IF EXISTS enterprise.idx_enrichment_requests_status;
DROP INDEX IF EXISTS enterprise.idx_company_mapping_lookup;

DROP TABLE IF EXISTS enterprise.enrichment_requests;
DROP TABLE IF EXISTS enterprise.company_mapping;
DROP TABLE IF EXISTS enterprise.company_master;

-- DROP SCHEMA without CASCADE refuses while the schema holds anything; in
-- that case the schema belongs to someone else as well, so keep it.
DO $$
BEGIN
    DROP SCHEMA IF EXISTS enterprise;
EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE NOTICE 'schema enterprise kept: it holds objects that wdh did not create';
END
$$;
