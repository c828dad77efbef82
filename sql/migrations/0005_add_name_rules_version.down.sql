-- 0005 add_name_rules_version (down): drops only what 0005 added. The
-- previous temporary IDs and the audit rows go with it.
ALTER TABLE IF EXISTS enterprise.enrichment_requests
    DROP COLUMN IF EXISTS previous_temp_ids;
DROP TABLE IF EXISTS enterprise.name_rekey_audit;
DROP TABLE IF EXISTS enterprise.name_rules;
