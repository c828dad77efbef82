-- Reads of the review round trip (wdh_cli/review/repository.py). The review
-- writes nothing itself: companies, name mappings and request states go
-- through their owners' repositories (companies, mappings, queue).

-- name: requests_to_review
-- The failed requests a person should look at, the names that hold back
-- most rows first. Only the newest request of a name: an older failed one is
-- superseded by a newer request (queued again, resolved, or failed again),
-- and deciding it would be deciding the same name twice; the NOT EXISTS is
-- one probe of idx_enrichment_requests_name per row. A request a person
-- already confirmed has no company (last_error = the review's message) is
-- left out unless include_none. A NULL limit is no limit.
SELECT r.id, r.raw_name, r.normalized_name, r.temp_id, r.rows_seen, r.last_error
FROM enterprise.enrichment_requests AS r
WHERE r.status = 'failed'
  AND (%(include_none)s OR r.last_error IS DISTINCT FROM %(no_company)s)
  AND NOT EXISTS (
        SELECT 1 FROM enterprise.enrichment_requests AS n
        WHERE n.normalized_name = r.normalized_name AND n.id > r.id
    )
ORDER BY r.rows_seen DESC, r.id
LIMIT %(limit)s;

-- name: review_targets
-- Every request a file decides, in one statement, with the company its name
-- is mapped to now at the given level (the conflict check). The CTE locks the
-- requests (FOR UPDATE) until the apply commits, so nobody retries or
-- resolves them between this check and the writes; it cannot sit on the
-- outer join itself, since FOR UPDATE refuses the nullable side of one.
-- `issued` tells a request that existed and was purged (its id is not above
-- the id sequence's last value: stale) from an id never handed out (an error
-- in the file).
WITH locked AS (
    SELECT r.id, r.status, r.raw_name, r.normalized_name, r.last_error
    FROM enterprise.enrichment_requests AS r
    WHERE r.id = ANY (%(ids)s::bigint[])
    ORDER BY r.id
    FOR UPDATE
)
SELECT k.id,
       l.id IS NOT NULL AS found,
       k.id <= coalesce(pg_sequence_last_value(
           pg_get_serial_sequence('enterprise.enrichment_requests', 'id')::regclass), 0) AS issued,
       l.status, l.raw_name, l.normalized_name, l.last_error,
       m.canonical_id AS mapped_to
FROM unnest(%(ids)s::bigint[]) AS k (id)
LEFT JOIN locked AS l ON l.id = k.id
LEFT JOIN enterprise.company_mapping AS m
       ON m.alias_name = l.normalized_name AND m.match_type = %(match_type)s;
