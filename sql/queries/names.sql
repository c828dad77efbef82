-- Queries of the name-rules version and `wdh names rekey` (wdh_cli/namekeys/repository.py).
--
-- How a re-key works: the distinct stored keys (and the raw spellings the
-- queue keeps) go to Python, where the one normalizer gives their new keys;
-- only the pairs that change come back, by COPY, into temporary tables. Then
-- each table is planned in one statement (its rows that move, with the rows
-- already holding a new key, ranked per new key) and changed in one or two
-- set-based statements. New keys are fixed points of the rules (the
-- normalizer is idempotent), so a moved row's old key is never another
-- row's new key: no chain of renames, and no order among them.
--
-- The re-key writes tables other modules own (company_mapping, the ledger,
-- the queue): a data migration of every stored name key, in one transaction
-- over plan tables shared by the three, with one audit table. Those
-- statements (remove_/move_mappings, remove_/move_ledger, merge_/move_requests)
-- are the exception docs/architecture.md names; the owners' unique indexes
-- still hold every row they write.

-- name: rules_table_present
-- Before migration 0005 there is no record; such a database holds version-1
-- keys. With no company_mapping either (no schema at all), it holds none.
SELECT to_regclass('enterprise.name_rules') IS NOT NULL AS present,
       to_regclass('enterprise.company_mapping') IS NOT NULL AS keyed;

-- name: rules_version
SELECT version FROM enterprise.name_rules;

-- name: set_rules_version
UPDATE enterprise.name_rules SET version = %(version)s, updated_at = now();

-- name: lock_name_keys
-- Writers of name keys wait until the re-key commits (readers do not): a
-- key written meanwhile would be made with the old rules, or lost in a merge.
-- The order is that of the other writers' locks, table by table.
LOCK TABLE enterprise.name_rules, enterprise.company_mapping,
           enterprise.enrichment_requests, enterprise.provider_answers
    IN SHARE ROW EXCLUSIVE MODE;

-- name: copy_stored_keys
-- Keys with no raw spelling beside them: name mappings and ledger answers.
-- Each distinct key once (UNION), so Python normalizes it once.
COPY (
    SELECT alias_name FROM enterprise.company_mapping WHERE match_type = 'name'
    UNION
    SELECT normalized_name FROM enterprise.provider_answers
) TO STDOUT;

-- name: copy_stored_requests
-- The queue keeps each request's spelling (raw_name): its new key is
-- computed from the spelling, not from the old key.
COPY (
    SELECT DISTINCT raw_name, normalized_name FROM enterprise.enrichment_requests
) TO STDOUT;

-- name: create_rekey_tables
-- The keys that change, filled by COPY; ON COMMIT DROP ties them to the
-- re-key's transaction (and a dry run's rollback).
CREATE TEMPORARY TABLE rekey_keys (
    old_key text PRIMARY KEY,
    new_key text NOT NULL
) ON COMMIT DROP;
CREATE TEMPORARY TABLE rekey_requests (
    raw_name    text NOT NULL,
    old_key     text NOT NULL,
    new_key     text NOT NULL,
    old_temp_id text,  -- the HMAC ID of old_key (NULL without the salt)
    new_temp_id text,  -- the HMAC ID of new_key
    PRIMARY KEY (raw_name, old_key)
) ON COMMIT DROP;

-- name: copy_rekey_keys
COPY rekey_keys (old_key, new_key) FROM STDIN;

-- name: copy_rekey_requests
COPY rekey_requests (raw_name, old_key, new_key, old_temp_id, new_temp_id) FROM STDIN;

-- name: analyze_rekey_tables
-- Temporary tables have no statistics until analyzed; without them the
-- planner guesses their size and may pick nested loops over a million keys.
ANALYZE rekey_keys;
ANALYZE rekey_requests;

-- name: plan_mappings
-- Every name mapping whose key changes, and every one that already holds a
-- new key (it may absorb a moved one), ranked per new key: the first row
-- (lower priority number, then older, then lower id) is kept. The others
-- leave: merged when they name the keeper's company, a conflict otherwise.
CREATE TEMPORARY TABLE rekey_mapping_plan ON COMMIT DROP AS
WITH involved AS (
    SELECT m.id, m.alias_name AS old_key, k.new_key, true AS moved,
           m.canonical_id, m.priority, m.created_at
    FROM rekey_keys AS k
    JOIN enterprise.company_mapping AS m
      ON m.alias_name = k.old_key AND m.match_type = 'name'
    UNION ALL
    SELECT m.id, m.alias_name, m.alias_name, false, m.canonical_id, m.priority, m.created_at
    FROM (SELECT DISTINCT new_key FROM rekey_keys WHERE new_key <> '') AS n
    JOIN enterprise.company_mapping AS m
      ON m.alias_name = n.new_key AND m.match_type = 'name'
)
SELECT i.*,
       first_value(i.id) OVER w AS keeper_id,
       first_value(i.canonical_id) OVER w AS keeper_company
FROM involved AS i
WINDOW w AS (PARTITION BY i.new_key ORDER BY i.priority, i.created_at, i.id);

-- name: count_mappings
SELECT count(*) FILTER (WHERE moved) AS keys_changed,
       count(*) FILTER (WHERE new_key <> '' AND id <> keeper_id
                          AND canonical_id = keeper_company) AS merged,
       count(*) FILTER (WHERE new_key <> '' AND id <> keeper_id
                          AND canonical_id <> keeper_company) AS conflicts,
       count(*) FILTER (WHERE new_key = '') AS emptied
FROM rekey_mapping_plan;

-- name: mapping_conflicts
SELECT 'company_mapping' AS table_name, old_key, new_key,
       canonical_id AS removed, keeper_company AS kept
FROM rekey_mapping_plan
WHERE new_key <> '' AND id <> keeper_id AND canonical_id <> keeper_company
ORDER BY new_key, old_key;

-- name: remove_mappings
-- The rows that leave, in one statement: merged ones simply go (the keeper
-- says the same); conflicting ones, and those whose name is no company name
-- under the new rules (empty key), are written whole to the audit table with
-- the row kept in their place (as it was before this re-key).
WITH removed AS (
    DELETE FROM enterprise.company_mapping AS m
    USING rekey_mapping_plan AS p
    WHERE m.id = p.id
      AND (p.new_key = '' OR p.id <> p.keeper_id)
    RETURNING p.old_key, p.new_key, p.keeper_id, p.keeper_company, m.canonical_id,
              to_jsonb(m) AS removed_row
)
INSERT INTO enterprise.name_rekey_audit
    (from_version, to_version, table_name, old_key, new_key, reason, removed_row, kept_row)
SELECT %(from_version)s, %(to_version)s, 'company_mapping', r.old_key, r.new_key,
       CASE WHEN r.new_key = '' THEN 'empty' ELSE 'conflict' END,
       r.removed_row,
       CASE WHEN r.new_key <> '' THEN
           (SELECT to_jsonb(k) FROM enterprise.company_mapping AS k WHERE k.id = r.keeper_id)
       END
FROM removed AS r
WHERE r.new_key = '' OR r.canonical_id <> r.keeper_company;

-- name: move_mappings
-- The kept rows that moved take their new key. Their losers are gone (the
-- statement before), so the unique (alias_name, match_type) holds row by row.
UPDATE enterprise.company_mapping AS m
SET alias_name = p.new_key,
    updated_at = now()
FROM rekey_mapping_plan AS p
WHERE m.id = p.id
  AND p.moved
  AND p.id = p.keeper_id
  AND p.new_key <> '';

-- name: plan_ledger
-- The same for the provider ledger, per provider and new key. Answers agree
-- when outcome and company are the same; the older answer is kept.
CREATE TEMPORARY TABLE rekey_ledger_plan ON COMMIT DROP AS
WITH involved AS (
    SELECT a.provider, a.normalized_name AS old_key, k.new_key, true AS moved,
           a.outcome, a.company_id, a.asked_at
    FROM rekey_keys AS k
    JOIN enterprise.provider_answers AS a ON a.normalized_name = k.old_key
    UNION ALL
    SELECT a.provider, a.normalized_name, a.normalized_name, false,
           a.outcome, a.company_id, a.asked_at
    FROM (SELECT DISTINCT new_key FROM rekey_keys WHERE new_key <> '') AS n
    JOIN enterprise.provider_answers AS a ON a.normalized_name = n.new_key
)
SELECT i.*,
       first_value(i.old_key) OVER w AS keeper_key,
       (i.outcome = first_value(i.outcome) OVER w
        AND i.company_id IS NOT DISTINCT FROM first_value(i.company_id) OVER w) AS agrees,
       first_value(i.company_id) OVER w AS keeper_company
FROM involved AS i
WINDOW w AS (PARTITION BY i.provider, i.new_key ORDER BY i.asked_at, i.old_key);

-- name: count_ledger
SELECT count(*) FILTER (WHERE moved) AS keys_changed,
       count(*) FILTER (WHERE new_key <> '' AND old_key <> keeper_key AND agrees) AS merged,
       count(*) FILTER (WHERE new_key <> '' AND old_key <> keeper_key AND NOT agrees) AS conflicts,
       count(*) FILTER (WHERE new_key = '') AS emptied
FROM rekey_ledger_plan;

-- name: ledger_conflicts
SELECT 'provider_answers' AS table_name, old_key, new_key,
       coalesce(company_id, outcome) AS removed, coalesce(keeper_company, '') AS kept
FROM rekey_ledger_plan
WHERE new_key <> '' AND old_key <> keeper_key AND NOT agrees
ORDER BY new_key, old_key;

-- name: remove_ledger
WITH removed AS (
    DELETE FROM enterprise.provider_answers AS a
    USING rekey_ledger_plan AS p
    WHERE a.provider = p.provider
      AND a.normalized_name = p.old_key
      AND (p.new_key = '' OR p.old_key <> p.keeper_key)
    RETURNING p.provider, p.old_key, p.new_key, p.keeper_key, p.agrees,
              to_jsonb(a) AS removed_row
)
INSERT INTO enterprise.name_rekey_audit
    (from_version, to_version, table_name, old_key, new_key, reason, removed_row, kept_row)
SELECT %(from_version)s, %(to_version)s, 'provider_answers', r.old_key, r.new_key,
       CASE WHEN r.new_key = '' THEN 'empty' ELSE 'conflict' END,
       r.removed_row,
       CASE WHEN r.new_key <> '' THEN
           (SELECT to_jsonb(k) FROM enterprise.provider_answers AS k
            WHERE k.provider = r.provider AND k.normalized_name = r.keeper_key)
       END
FROM removed AS r
WHERE r.new_key = '' OR NOT r.agrees;

-- name: move_ledger
UPDATE enterprise.provider_answers AS a
SET normalized_name = p.new_key
FROM rekey_ledger_plan AS p
WHERE a.provider = p.provider
  AND a.normalized_name = p.old_key
  AND p.moved
  AND p.old_key = p.keeper_key
  AND p.new_key <> '';

-- name: plan_requests
-- Requests whose spelling gives a new key, and the open requests already
-- holding a new key. Only open requests (pending, processing) merge: the
-- queue holds one open request per name (idx_enrichment_requests_normalized),
-- while done and failed ones are history and may share a key. The oldest
-- open request is kept; an open request has no company yet, so they agree.
CREATE TEMPORARY TABLE rekey_request_plan ON COMMIT DROP AS
WITH involved AS (
    SELECT r.id, r.normalized_name AS old_key, k.new_key, true AS moved,
           r.status IN ('pending', 'processing') AS open,
           k.old_temp_id, k.new_temp_id
    FROM rekey_requests AS k
    JOIN enterprise.enrichment_requests AS r
      ON r.normalized_name = k.old_key AND r.raw_name = k.raw_name
    -- A closed request whose name is no company name has nothing to change
    -- (it keeps its key, see move_requests), so a second re-key finds nothing.
    WHERE k.new_key <> '' OR r.status IN ('pending', 'processing')
    UNION ALL
    SELECT r.id, r.normalized_name, r.normalized_name, false, true, NULL, NULL
    FROM (SELECT DISTINCT new_key FROM rekey_requests WHERE new_key <> '') AS n
    JOIN enterprise.enrichment_requests AS r
      ON r.normalized_name = n.new_key AND r.status IN ('pending', 'processing')
    -- (A request that moves is in the first part; its old key is seldom
    -- another's new key, but a spelling made only of decorations can do it.)
    WHERE NOT EXISTS (
        SELECT 1 FROM rekey_requests AS m
        WHERE m.old_key = r.normalized_name AND m.raw_name = r.raw_name
    )
)
SELECT i.*,
       i.open AND i.new_key <> '' AS merges,
       first_value(i.id) OVER w AS keeper_id
FROM involved AS i
WINDOW w AS (PARTITION BY i.open AND i.new_key <> '', i.new_key ORDER BY i.id);

-- name: count_requests
SELECT count(*) FILTER (WHERE moved) AS keys_changed,
       count(*) FILTER (WHERE merges AND id <> keeper_id) AS merged,
       0::bigint AS conflicts,
       count(*) FILTER (WHERE new_key = '') AS emptied
FROM rekey_request_plan;

-- name: merge_requests
-- Open requests that now share a key fold into the oldest: it inherits their
-- temporary IDs (temp_id and previous_temp_ids, for `wdh queue resolved` and
-- `wdh rewrite`) and the rows they held back (rows_seen); they are deleted.
-- Keys move in the next statement, once the partial unique index is free.
WITH removed AS (
    DELETE FROM enterprise.enrichment_requests AS r
    USING rekey_request_plan AS p
    WHERE r.id = p.id AND p.merges AND p.id <> p.keeper_id
    RETURNING p.keeper_id, r.temp_id, r.previous_temp_ids, r.rows_seen, r.last_seen_at
), ids AS (
    SELECT x.keeper_id, t.temp_id
    FROM removed AS x, unnest(array_append(x.previous_temp_ids, x.temp_id)) AS t (temp_id)
    WHERE t.temp_id IS NOT NULL
), folded AS (
    SELECT x.keeper_id, sum(x.rows_seen) AS rows_seen, max(x.last_seen_at) AS last_seen_at,
           (SELECT array_agg(DISTINCT i.temp_id) FROM ids AS i WHERE i.keeper_id = x.keeper_id)
               AS temp_ids
    FROM removed AS x
    GROUP BY x.keeper_id
)
UPDATE enterprise.enrichment_requests AS r
SET previous_temp_ids = ARRAY(
        SELECT DISTINCT t
        FROM unnest(r.previous_temp_ids || coalesce(f.temp_ids, '{}')) AS t
        WHERE t IS DISTINCT FROM r.temp_id
        ORDER BY t),
    rows_seen = r.rows_seen + f.rows_seen,
    last_seen_at = greatest(r.last_seen_at, f.last_seen_at)
FROM folded AS f
WHERE r.id = f.keeper_id;

-- name: move_requests
-- Each moved request takes its new key. An HMAC temporary ID made from the
-- old key (the warehouse holds it) is remembered in previous_temp_ids and
-- the ID of the new key takes its place, the one resolve gives from now on;
-- any other ID (sequential TEMP_, another salt) stays as it is, as resolve
-- finds it by the key. An open request whose name is no company name under
-- the new rules (empty key) keeps its key and is closed as failed, so it is
-- never sent to a provider. updated_at is left alone where the status does
-- not change: it dates the resolution (`wdh queue resolved --since`).
UPDATE enterprise.enrichment_requests AS r
SET normalized_name = CASE WHEN p.new_key = '' THEN r.normalized_name ELSE p.new_key END,
    temp_id = CASE WHEN p.new_key <> '' AND r.temp_id = p.old_temp_id
                   THEN p.new_temp_id ELSE r.temp_id END,
    previous_temp_ids = CASE WHEN p.new_key <> '' AND r.temp_id = p.old_temp_id
                             THEN array_remove(array_remove(r.previous_temp_ids, p.new_temp_id),
                                               r.temp_id) || r.temp_id::text
                             ELSE r.previous_temp_ids END,
    status = CASE WHEN p.new_key = '' AND p.open THEN 'failed' ELSE r.status END,
    last_error = CASE WHEN p.new_key = '' AND p.open THEN %(not_a_name)s ELSE r.last_error END,
    claimed_at = CASE WHEN p.new_key = '' AND p.open THEN NULL ELSE r.claimed_at END,
    worker_id = CASE WHEN p.new_key = '' AND p.open THEN NULL ELSE r.worker_id END,
    updated_at = CASE WHEN p.new_key = '' AND p.open THEN now() ELSE r.updated_at END
FROM rekey_request_plan AS p
WHERE r.id = p.id
  AND p.moved
  AND (NOT p.merges OR p.id = p.keeper_id);
