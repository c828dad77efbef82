-- Statements on a warehouse table, for `wdh resolve --table` and `wdh rewrite
-- --table`. Names in braces ({table}, {keys}, ...) are identifiers or lists
-- of them, composed with psycopg's sql module (always quoted, never pasted);
-- values are parameters. The rows never leave PostgreSQL: Python sees the
-- distinct keys of a batch and sends back one answer per distinct key.

-- name: table_columns
-- The columns of one table (or partitioned table), with their type and the
-- type's category ('S': a string type, which the output columns must be).
SELECT a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS type,
       t.typcategory AS category
FROM pg_catalog.pg_attribute AS a
JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
WHERE n.nspname = %(schema)s AND c.relname = %(table)s
  AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;

-- name: add_output_columns
-- --add-columns: the two output columns as text. IF NOT EXISTS: a column
-- already there is left as it is (its type was checked before).
ALTER TABLE {table}
    ADD COLUMN IF NOT EXISTS {id_column} text,
    ADD COLUMN IF NOT EXISTS {source_column} text;

-- name: number_rows
-- Every row's key cells as text (NULL as '', as a file has it), numbered in
-- the table's physical order, which is the order of a file the table was
-- loaded from: batches of rows are then the batches a file run would make,
-- and answers are the same. ctid identifies the row for the update; the work
-- table lives as long as the session (ON COMMIT PRESERVE ROWS) because the
-- batches are committed one by one.
CREATE TEMPORARY TABLE wdh_rows ON COMMIT PRESERVE ROWS AS
SELECT row_number() OVER (ORDER BY ctid) AS n, ctid AS rid, {keys}
FROM {table};

-- name: index_rows
-- Each batch reads its rows by number.
CREATE INDEX wdh_rows_n ON wdh_rows (n);

-- name: batch_keys
-- The distinct key tuples of one batch, each with its rows, in the order of
-- their first row (the order a file run meets them: it decides which names
-- the budget reaches first).
SELECT ARRAY[{keys}] AS keys, count(*) AS rows
FROM wdh_rows
WHERE n > %(after)s AND n <= %(last)s
GROUP BY {keys}
ORDER BY min(n);

-- name: batch_span
-- The first and last ctid of a batch: the update scans only that range of
-- the table (a TID range scan) instead of the whole table per batch.
SELECT min(rid)::text AS first, max(rid)::text AS last
FROM wdh_rows
WHERE n > %(after)s AND n <= %(last)s;

-- name: create_answers
-- One answer per distinct key tuple of the batch, filled by COPY.
CREATE TEMPORARY TABLE wdh_answers ({columns}, company_id text, source text)
ON COMMIT PRESERVE ROWS;

-- name: write_answers
-- The batch's rows get their answers: rows joined to the answers on their
-- key cells, and to the table by ctid within the batch's range. A row that
-- already holds its answer is not written again, so a rerun writes nothing.
UPDATE {table} AS t
SET {id_column} = a.company_id, {source_column} = a.source
FROM wdh_rows AS r
JOIN wdh_answers AS a ON {join}
WHERE r.n > %(after)s AND r.n <= %(last)s
  AND t.ctid = r.rid
  AND t.ctid >= %(first_rid)s::tid AND t.ctid <= %(last_rid)s::tid
  AND (t.{id_column}, t.{source_column}) IS DISTINCT FROM (a.company_id, a.source);

-- name: drop_work_tables
DROP TABLE IF EXISTS wdh_rows, wdh_answers, wdh_rewrite;

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
-- company and how it was resolved. A temporary ID names one normalized name,
-- but the name may have had several requests over time (purged and queued
-- again): the newest resolved one counts (DISTINCT ON).
CREATE TEMPORARY TABLE wdh_rewrite ON COMMIT PRESERVE ROWS AS
SELECT DISTINCT ON (temp_id) temp_id, resolved_company_id AS company_id,
       resolved_source AS source
FROM enterprise.enrichment_requests
WHERE status = 'done' AND temp_id IS NOT NULL AND resolved_company_id IS NOT NULL
ORDER BY temp_id, updated_at DESC;

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
