-- 0006 raise_temp_id_counter
-- The first releases shipped 0002 without its last step, which 0002 has
-- since gained: raise the sequential temporary-ID counter to the largest
-- TEMP_ number already in the queue. A database that applied that first text
-- keeps it (wdh accepts its checksum, docs/mappings.md "Upgrading from
-- earlier releases"), and an applied migration never runs again, so the step
-- is here once more. A counter that lags behind the queue (the tool before
-- wdh handed those IDs out) would issue an ID twice: two companies, one ID.
-- Idempotent, and nothing to do where 0002 already did it.

-- Raise only, never lower: numbers below the counter may have been issued
-- without reaching the queue. At most 18 digits, so the cast to bigint cannot
-- overflow on a malformed ID (a longer one could never be reached anyway).
UPDATE enterprise.temp_id_sequence
SET last_number = issued.max_number,
    updated_at = now()
FROM (
    SELECT max(substring(temp_id FROM '^TEMP_([0-9]{1,18})$')::bigint) AS max_number
    FROM enterprise.enrichment_requests
) AS issued
WHERE issued.max_number > enterprise.temp_id_sequence.last_number;
