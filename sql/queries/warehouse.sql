-- Statements on a warehouse table, for `wdh resolve --table` and `wdh rewrite
-- --table`. Names in braces ({table}, {keys}, ...) are identifiers or lists
-- of them, composed with psycopg's sql module (always quoted, never pasted);
-- values are parameters. The rows never leave PostgreSQL: Python sees the
-- distinct keys of a batch and sends back one answer per distinct key.

-- name: lock_timeout
-- A warehouse table is also loaded, altered and read by other tools: a lock
-- one of them holds (an open transaction, a long ALTER) would otherwise keep
-- a run waiting forever, deaf to SIGTERM (it stops between batches). This
-- session waits at most WDH_LOCK_TIMEOUT for any lock, then the statement
-- fails and its batch is rolled back.
SELECT set_config('lock_timeout', %(ms)s, false);

-- name: key_text_style
-- Key cells of other types become text as this session formats them: dates
-- as ISO (2026-11-24), as wdh writes a spreadsheet's dates, whatever the
-- server's or the role's DateStyle.
SELECT set_config('datestyle', 'ISO, YMD', false);

-- name: table_columns
-- The columns of one table (or partitioned table), with what a column wdh
-- writes must allow, checked before any batch runs (wdh_cli/warehouse/checks.py):
-- its type (typname: text, varchar or bpchar; a domain or `name` is refused,
-- `name` would cut an ID silently), the length a varchar(n) or char(n) holds
-- (atttypmod is n + 4; NULL when unlimited), whether it is generated
-- (attgenerated) or an identity column (attidentity), which an UPDATE cannot
-- set, and whether the connected role may update it.
SELECT a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS type,
       t.typname AS type_name,
       CASE WHEN t.typname IN ('varchar', 'bpchar') AND a.atttypmod > 4
            THEN a.atttypmod - 4 END AS max_length,
       a.attgenerated <> '' AS generated,
       a.attidentity <> '' AS identity,
       has_column_privilege(c.oid, a.attnum, 'UPDATE') AS updatable
FROM pg_catalog.pg_attribute AS a
JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
WHERE n.nspname = %(schema)s AND c.relname = %(table)s
  AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;

-- name: relation_kind
-- What a name that is no table is, for the message (a view, a sequence...).
SELECT c.relkind::text AS kind
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relname = %(table)s;

-- name: add_output_columns
-- --add-columns: the two output columns as text. IF NOT EXISTS: a column
-- already there is left as it is (its type was checked before).
ALTER TABLE {table}
    ADD COLUMN IF NOT EXISTS {id_column} text,
    ADD COLUMN IF NOT EXISTS {source_column} text;

-- name: batch_bounds
-- The ctid of every --batch-th row, in the table's physical order, which is
-- the order of a file the table was loaded from: batches are then the
-- batches a file run would make, and answers the same (the last batch runs
-- to the end of the table). Only these bounds are kept: each batch is then
-- read as a TID range scan. A plain sequential scan returns rows in ctid
-- order when it starts at the first page and runs alone (the caller turns
-- off synchronized and parallel scans), which spares sorting every ctid;
-- the caller checks that the bounds ascend and falls back to
-- batch_bounds_sorted otherwise.
SELECT rid::text AS last, n AS rows
FROM (SELECT ctid AS rid, row_number() OVER () AS n FROM {table}) AS numbered
WHERE n %% %(batch)s = 0
ORDER BY n;

-- name: batch_bounds_sorted
-- batch_bounds, with the order asked for: a sort of every ctid.
SELECT rid::text AS last, n AS rows
FROM (SELECT ctid AS rid, row_number() OVER (ORDER BY ctid) AS n FROM {table}) AS numbered
WHERE n %% %(batch)s = 0
ORDER BY n;

-- name: scan_from_the_start
-- For batch_bounds: this transaction's sequential scans start at page 0 and
-- are not split among parallel workers.
SET LOCAL synchronize_seqscans = off;
SET LOCAL max_parallel_workers_per_gather = 0;

-- name: table_file
-- The file holding the table's rows: VACUUM FULL, CLUSTER and ALTER TABLE
-- that rewrite a table give it a new one, and new row positions. (NULL for a
-- partitioned table, whose rows live in its partitions.)
SELECT pg_relation_filenode(%(regclass)s::regclass)::text AS file;

-- name: drop_work_tables
DROP TABLE IF EXISTS wdh_rewrite;

-- name: table_pages
-- How many pages the table has now, and about how many rows a page holds:
-- rewrite walks the table in ranges of pages of about --batch rows.
SELECT (pg_relation_size(%(regclass)s::regclass)
        / current_setting('block_size')::bigint) AS pages,
       greatest(c.reltuples, 0)::bigint AS rows_estimate,
       greatest(c.relpages, 0)::bigint AS pages_estimate
FROM pg_catalog.pg_class AS c
WHERE c.oid = %(regclass)s::regclass;

-- name: rewrite_map
-- Every temporary ID that the queue or a review has since resolved, with its
-- company and how it was resolved: each request's own temp_id, and the IDs
-- it had before `wdh names rekey` changed its key (previous_temp_ids), which
-- rows already in the warehouse still hold. A name may have had several
-- requests over time (purged and queued again): for each ID the newest
-- resolved one counts (DISTINCT ON).
CREATE TEMPORARY TABLE wdh_rewrite ON COMMIT PRESERVE ROWS AS
SELECT DISTINCT ON (ids.temp_id) ids.temp_id, r.resolved_company_id AS company_id,
       r.resolved_source AS source
FROM enterprise.enrichment_requests AS r
CROSS JOIN LATERAL unnest(array_prepend(r.temp_id, coalesce(r.previous_temp_ids, ARRAY[]::text[])))
     AS ids (temp_id)
WHERE r.status = 'done' AND ids.temp_id IS NOT NULL AND r.resolved_company_id IS NOT NULL
ORDER BY ids.temp_id, r.updated_at DESC;

-- name: index_rewrite_map
CREATE UNIQUE INDEX wdh_rewrite_temp_id ON wdh_rewrite (temp_id);

-- name: rewrite_pages
-- One range of pages: rows holding a resolved temporary ID get the company
-- (and, with a source column, how it was resolved). A TID range scan reads
-- only these pages.
UPDATE {table} AS t
SET {assignments}
FROM wdh_rewrite AS m
WHERE t.{id_column} = m.temp_id
  AND t.ctid >= %(first)s::tid AND t.ctid < %(after)s::tid;

-- name: count_rewritable
-- --dry-run: the rows a rewrite would change.
SELECT count(*) AS rows
FROM {table} AS t
JOIN wdh_rewrite AS m ON t.{id_column} = m.temp_id;

-- name: count_temporary
-- Rows that still hold a temporary ID (either style) with no real company.
SELECT count(*) AS rows
FROM {table} AS t
WHERE t.{id_column} ~ %(pattern)s
  AND NOT EXISTS (SELECT 1 FROM wdh_rewrite AS m WHERE m.temp_id = t.{id_column});
