-- enterprise.company_master, written here (wdh_cli/companies/repository.py)
-- and by the drain's record_batch (queue.sql; docs/architecture.md says why).
-- The names a provider answered go to company_mapping through the mappings
-- repository, its owner.

-- name: lock_companies
-- Why: company_master has two unique keys, company_id and
-- unified_credit_code, and INSERT ... ON CONFLICT arbitrates only one. Two
-- sessions learning the same company at the same moment (two workers of a
-- drain, two drains, a drain and a resolve) could both find no row, and the
-- second insert would then fail on the credit code instead of merging; two
-- companies given one credit code could both pass the "no other holder"
-- check. A transaction-level advisory lock per company id and per credit
-- code makes such sessions take turns: the second waits for the first to
-- commit, and its next statement (a new snapshot) sees the row and merges.
-- The locks are taken in one order (sorted hashes), so two sessions never
-- wait for each other; a hash collision only makes two sessions take turns
-- needlessly. ORDER BY applies before the locking calls in the select list
-- run (volatile functions are evaluated after the sort).
SELECT pg_advisory_xact_lock(%(class_id)s::integer, k.key)
FROM (SELECT DISTINCT hashtext(u.key) AS key FROM unnest(%(keys)s::text[]) AS u (key)) AS k
ORDER BY k.key;

-- name: upsert_companies
-- One row per (company, raw name) arrives; the CTE folds them into one row
-- per company, since ON CONFLICT DO UPDATE may touch each row only once per
-- statement. A credit code is kept only if no other company holds it (it is
-- UNIQUE) and no other company in this batch claims it too.
-- Arbiter company_id: a known company keeps its fields and gains the raw
-- names among its aliases.
WITH learned AS (
    SELECT l.company_id,
           min(l.official_name) AS official_name,
           min(l.code) AS code,
           array_agg(DISTINCT l.alias ORDER BY l.alias) AS aliases
    FROM unnest(%(company_ids)s::text[], %(official_names)s::text[], %(codes)s::text[],
                %(aliases)s::text[]) AS l (company_id, official_name, code, alias)
    GROUP BY l.company_id
), checked AS (
    SELECT d.*, count(*) OVER (PARTITION BY d.code) AS code_owners
    FROM learned AS d
)
INSERT INTO enterprise.company_master (company_id, official_name, unified_credit_code, aliases, source)
SELECT c.company_id,
       c.official_name,
       CASE
           WHEN c.code IS NULL OR c.code_owners > 1 THEN NULL
           WHEN EXISTS (SELECT 1 FROM enterprise.company_master AS m
                        WHERE m.unified_credit_code = c.code AND m.company_id <> c.company_id)
               THEN NULL
           ELSE c.code
       END,
       c.aliases,
       %(source)s
FROM checked AS c
ORDER BY c.company_id
ON CONFLICT (company_id) DO UPDATE
SET aliases = ARRAY(
        SELECT DISTINCT a
        FROM unnest(coalesce(company_master.aliases, '{}') || EXCLUDED.aliases) AS a
        ORDER BY a
    ),
    updated_at = now();
