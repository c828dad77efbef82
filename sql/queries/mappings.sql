-- Queries of the mapping repository (wdh_cli/mappings/repository.py), the
-- owner of enterprise.company_mapping. The drain's record_batch (queue.sql)
-- and the re-key (names.sql) also write it, as docs/architecture.md says why.

-- name: create_staging
-- Loads go through temporary tables: COPY is the fastest way in, and the
-- merge into company_mapping is then one set-based statement. ON COMMIT DROP
-- ties their life to the load's transaction. Every valid row of the input is
-- staged, repeats included, with the file (its position in the command's
-- list of files) and line it came from: repeats and contradictions inside
-- the input are found here, in SQL, so the client keeps nothing per row and
-- its memory stays flat whatever the size of the input.
CREATE TEMPORARY TABLE mapping_staging (
    file_no      integer NOT NULL,
    line         integer NOT NULL,
    alias_name   text    NOT NULL,
    canonical_id text    NOT NULL,
    match_type   text    NOT NULL,
    priority     integer NOT NULL,
    source       text    NOT NULL
) ON COMMIT DROP;

-- name: tune_load
-- The merge sorts and hash-joins every staged row; the default 4MB of
-- work_mem would spill a large load to disk. SET LOCAL ends with the load.
SET LOCAL work_mem = '256MB';

-- name: copy_staging
COPY mapping_staging (file_no, line, alias_name, canonical_id, match_type, priority, source)
FROM STDIN;

-- name: keep_first_rows
-- Within the input the first row of a key wins (file order: file, then
-- line). They go to a table of their own, so that classify, the conflict
-- list and the merge judge each key once. One sort does it: DISTINCT ON keeps
-- the first row of each (alias_name, match_type) in the ORDER BY, which is
-- key order, then file order. COLLATE "C" sorts by bytes, much faster than a
-- locale's collation; equality is the same under every deterministic
-- collation, so the keys are those of company_mapping's unique constraint.
-- The rows are written in key order, the order the merge inserts them in.
CREATE TEMPORARY TABLE mapping_keys ON COMMIT DROP AS
SELECT DISTINCT ON (alias_name COLLATE "C", match_type)
       alias_name, canonical_id, match_type, priority, source, file_no, line
FROM mapping_staging
ORDER BY alias_name COLLATE "C", match_type, file_no, line;

-- name: analyze_keys
-- Temporary tables are never auto-analyzed, and without statistics the
-- planner guesses badly for the joins below: on 1M new keys it chose a merge
-- anti-join, sorting every key a second time under the database's collation
-- (several times slower than COLLATE "C"), instead of one hash join. A
-- sample of 30,000 rows costs a fraction of a second. The staging table
-- itself needs none: it is only scanned and sorted.
ANALYZE mapping_keys;

-- name: list_contradictions
-- Staged rows whose key's first row (in mapping_keys) names another company:
-- they are rejected, and the message names that first row. Later rows with
-- the same company as the first are repeats, not listed: the caller counts
-- them (staged - keys - contradictions). Run only when the input repeats a
-- key at all (fewer keys than staged rows).
SELECT s.file_no, s.line, k.file_no AS first_file_no, k.line AS first_line,
       k.canonical_id AS first_id
FROM mapping_staging AS s
JOIN mapping_keys AS k
  ON k.alias_name = s.alias_name
 AND k.match_type = s.match_type
WHERE s.canonical_id <> k.canonical_id
ORDER BY s.file_no, s.line;

-- name: lock_mappings
-- The reported figures must be exactly what the write does: from the
-- classification to the commit no other session may write the table.
-- SHARE ROW EXCLUSIVE blocks writers (and other loads) but not readers.
LOCK TABLE enterprise.company_mapping IN SHARE ROW EXCLUSIVE MODE;

-- name: count_source
SELECT count(*) AS rows FROM enterprise.company_mapping WHERE source = %(source)s;

-- name: classify
-- Every key of the input (its first row) against the stored row of the key. Under delete_insert
-- the rows of the replaced source are about to go, so they do not count as
-- stored (replace_source is NULL for the other modes).
SELECT count(*) FILTER (WHERE m.id IS NULL) AS new,
       count(*) FILTER (WHERE m.canonical_id = s.canonical_id
                          AND m.priority = s.priority) AS same,
       count(*) FILTER (WHERE m.canonical_id = s.canonical_id
                          AND m.priority <> s.priority) AS priority_changed,
       count(*) FILTER (WHERE m.canonical_id <> s.canonical_id) AS conflicts
FROM mapping_keys AS s
LEFT JOIN enterprise.company_mapping AS m
       ON m.alias_name = s.alias_name
      AND m.match_type = s.match_type
      AND (%(replace_source)s::text IS NULL OR m.source <> %(replace_source)s::text);

-- name: list_conflicts
-- The same join as classify, keeping the rows whose key maps elsewhere.
SELECT s.file_no, s.line, s.alias_name, s.match_type,
       s.canonical_id AS new_id, m.canonical_id AS current_id, m.source AS current_source
FROM mapping_keys AS s
JOIN enterprise.company_mapping AS m
  ON m.alias_name = s.alias_name
 AND m.match_type = s.match_type
 AND (%(replace_source)s::text IS NULL OR m.source <> %(replace_source)s::text)
WHERE m.canonical_id <> s.canonical_id
ORDER BY s.file_no, s.line;

-- name: delete_source
DELETE FROM enterprise.company_mapping WHERE source = %(source)s;

-- name: insert_new
-- Sorted by key, so the btree indexes are filled in order: far cheaper than
-- the random order of the input on a large load. COLLATE "C" sorts by bytes
-- (fast); it is the index order under C and C.UTF-8, and under other
-- collations still a good enough order for the purpose. mapping_keys was
-- written in this order, so the sort finds its input already sorted.
-- The anti-join drops stored keys (append, and delete_insert for keys of
-- other sources; classify has counted them as unchanged or conflicts): one
-- hash join for a large load, index probes for a small one.
-- No ON CONFLICT: mapping_keys holds one row per key, the anti-join leaves
-- only keys that are not stored, and the lock keeps other writers out until
-- the commit, so no row can conflict. A speculative insertion per row (what
-- ON CONFLICT costs, even when nothing conflicts) made this statement about
-- a third slower; should a key conflict all the same, the unique constraint
-- fails the load and nothing is written.
INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, priority, source)
SELECT s.alias_name, s.canonical_id, s.match_type, s.priority, s.source
FROM mapping_keys AS s
WHERE NOT EXISTS (
    SELECT 1 FROM enterprise.company_mapping AS m
    WHERE m.alias_name = s.alias_name AND m.match_type = s.match_type
)
ORDER BY s.alias_name COLLATE "C", s.match_type;

-- name: upsert
-- Arbiter (alias_name, match_type): a stored key takes the new company and
-- priority. The WHERE skips identical rows, so they are neither rewritten
-- nor counted as updated.
INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, priority, source)
SELECT alias_name, canonical_id, match_type, priority, source
FROM mapping_keys
ORDER BY alias_name COLLATE "C", match_type
ON CONFLICT (alias_name, match_type) DO UPDATE
SET canonical_id = EXCLUDED.canonical_id,
    priority     = EXCLUDED.priority,
    updated_at   = now()
WHERE (company_mapping.canonical_id, company_mapping.priority)
      IS DISTINCT FROM (EXCLUDED.canonical_id, EXCLUDED.priority);

-- name: lookup
-- One statement for a whole batch of keys, passed as two parallel arrays.
-- The arrays travel as binary parameters: text-encoding thousands of keys costs
-- more client time than the query. LATERAL ... LIMIT 1 makes each key one probe of the unique index on
-- (alias_name, match_type): with a plain join the planner hash-joins a few
-- thousand keys against a sequential scan of the whole table, several times
-- slower. ORDER BY priority keeps the best row should a key ever have more.
SELECT k.match_type, k.alias_name, m.canonical_id, m.priority, m.source
FROM unnest(%(match_types)b::text[], %(keys)b::text[]) AS k (match_type, alias_name)
CROSS JOIN LATERAL (
    SELECT c.canonical_id, c.priority, c.source
    FROM enterprise.company_mapping AS c
    WHERE c.alias_name = k.alias_name
      AND c.match_type = k.match_type
    ORDER BY c.priority
    LIMIT 1
) AS m;

-- name: export_rows
SELECT alias_name, canonical_id, match_type, priority, source
FROM enterprise.company_mapping
WHERE %(match_type)s::text IS NULL OR match_type = %(match_type)s::text
ORDER BY match_type, alias_name;

-- name: insert_new_keys
-- The writer of small batches (backflow, provider answers): insert keys
-- that are new, in one statement, and say what happened to the input rows.
-- Each mapping stands for `weight` input rows (a resolve sends each distinct
-- key tuple once, with its row count); the figures count rows as if each had
-- been sent on its own. Within the batch the first mapping of a key inserts
-- (one row; its other rows are skipped), and a later mapping of that key is
-- skipped when it names the same company and a conflict otherwise. The
-- `stored` CTE reads the table as it was before this statement (one
-- snapshot), so a key found there is either the same mapping (skipped) or
-- another company (a conflict), and is left untouched in both cases. Arbiter
-- (alias_name, match_type): guards against a key inserted by a concurrent
-- session since the snapshot; such a row is counted nowhere.
-- `stored` probes the unique index once per batch row (LATERAL ... LIMIT 1,
-- which the planner cannot flatten into a plain join): with a plain join,
-- statistics taken while the table was smaller made the planner hash-join
-- a drain's 100 names against a sequential scan of the whole table, a cost
-- that grows with the table.
-- With write = false (plan-only) the INSERT selects no row, and `inserted`
-- counts the rows it would have inserted: the same statement gives the
-- figures of a real run without writing, and without taking serial values.
WITH batch AS (
    SELECT b.alias_name, b.canonical_id, b.match_type, b.priority, b.weight,
           first_value(b.canonical_id) OVER key_order AS first_id,
           row_number() OVER key_order AS nth
    FROM unnest(%(aliases)s::text[], %(company_ids)s::text[], %(match_types)s::text[],
                %(priorities)s::integer[], %(weights)s::integer[]) WITH ORDINALITY
         AS b (alias_name, canonical_id, match_type, priority, weight, position)
    WINDOW key_order AS (PARTITION BY b.alias_name, b.match_type ORDER BY b.position)
), stored AS (
    SELECT b.*, m.canonical_id AS current_id,
           (b.nth = 1 AND m.canonical_id IS NULL) AS inserts
    FROM batch AS b
    LEFT JOIN LATERAL (
        SELECT c.canonical_id
        FROM enterprise.company_mapping AS c
        WHERE c.alias_name = b.alias_name AND c.match_type = b.match_type
        LIMIT 1
    ) AS m ON true
), inserted AS (
    INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, priority, source)
    SELECT alias_name, canonical_id, match_type, priority, %(source)s
    FROM stored
    WHERE inserts AND %(write)s
    ON CONFLICT (alias_name, match_type) DO NOTHING
    RETURNING 1
)
SELECT CASE WHEN %(write)s THEN (SELECT count(*) FROM inserted)
            ELSE count(*) FILTER (WHERE inserts)
       END AS inserted,
       coalesce(sum(CASE WHEN inserts THEN weight - 1 ELSE weight END)
                FILTER (WHERE coalesce(current_id, first_id) = canonical_id), 0) AS skipped,
       coalesce(sum(weight) FILTER (WHERE coalesce(current_id, first_id) <> canonical_id), 0)
           AS conflicts
FROM stored;

-- name: insert_learned
-- Backflow: the keys a resolve run learned from its existing IDs (wdh_learned,
-- one row per key, each taught one company by `rows` rows; keys taught two
-- companies never get there). They were not stored when the run looked
-- them up, so each is inserted; a key another session stored since then is
-- left as it is, and its rows are counted as skipped (same company) or as
-- conflicts (another one). Arbiter (alias_name, match_type): that session's
-- row wins, as in insert_new_keys. A key's first row inserts it, its other
-- rows are skipped.
WITH inserted AS (
    INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, priority, source)
    SELECT alias_name, canonical_id, match_type, priority, %(source)s
    FROM wdh_learned
    ORDER BY alias_name COLLATE "C", match_type
    ON CONFLICT (alias_name, match_type) DO NOTHING
    RETURNING alias_name, match_type
), outcome AS (
    SELECT l.rows, (i.alias_name IS NOT NULL) AS inserts, m.canonical_id = l.canonical_id AS same
    FROM wdh_learned AS l
    LEFT JOIN inserted AS i ON i.alias_name = l.alias_name AND i.match_type = l.match_type
    LEFT JOIN enterprise.company_mapping AS m
           ON i.alias_name IS NULL AND m.alias_name = l.alias_name AND m.match_type = l.match_type
)
SELECT count(*) FILTER (WHERE inserts) AS inserted,
       coalesce(sum(CASE WHEN inserts THEN rows - 1 ELSE rows END)
                FILTER (WHERE inserts OR same), 0)::bigint AS skipped,
       coalesce(sum(rows) FILTER (WHERE NOT inserts AND NOT coalesce(same, false)), 0)::bigint
           AS conflicts
FROM outcome;
