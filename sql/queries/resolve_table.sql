-- `wdh resolve --table`: the engine's per-row work on a table, in PostgreSQL
-- (wdh_cli/warehouse/rows.py runs these through wdh_cli/warehouse/repository.py).
-- The rows never leave the server: Python sees the distinct names, and
-- sends back their keys and the answers of layers 4 and 5.
--
-- Each row is decided as wdh_cli/resolution/frame.py decides a file's row,
-- from its levels' *candidates* (wdh_cli/resolution/keys.py): "0" + LL +
-- company for an override, "1" + PPPP + LL + F + company for the cache, the
-- smallest (COLLATE "C", byte order, as polars compares) wins.
--
-- A run resolves the rows committed when it started: every statement reads
-- only rows whose xmin is older than the run's first transaction ({visible}:
-- age(t.xmin) >= age(boundary)). A row added or changed meanwhile is left
-- for the next run, never given an answer worked out without its keys; and
-- the row versions the run's own batches write are not read again.
--
-- Braces are composed with psycopg's sql module: {table} and the cells'
-- expressions ({name}, {existing}, a level's {key}) are quoted identifiers
-- inside fixed SQL, and literals (the whitespace a key is trimmed of, the
-- company-ID patterns, the sources) are sql.Literal; never pasted text.
-- A query's opening comment is not sent (db/sqlfiles.py), so it may name
-- the parts it is composed of.

-- name: boundary
-- The run's first transaction: rows with a newer xmin are not the run's.
SELECT pg_current_xact_id()::xid::text AS boundary;

-- name: session_settings
-- For this run's session, before it touches a temporary table: its
-- statements scan and hash a whole table, and the counts per answer and per
-- name must not spill to disk (4MB, the default, sorted a 1M-row count on
-- disk); every batch hashes the names (wdh_names), which must stay in the
-- session's buffers (8MB, the default, read them from disk each time); JIT
-- compilation of their long expressions cost more than it saved (measured
-- on a 1M-row table). The planner cannot see how many rows the filters on
-- the table's cells keep (it guessed 1,667 of 1M, and one distinct pair of
-- a million): it sorted a million names by their collation where hashing
-- them was several times cheaper; in memory (work_mem) hashing always is.
SET work_mem = '256MB';
SET temp_buffers = '128MB';
SET jit = off;
SET enable_sort = off;
SET enable_mergejoin = off;

-- name: create_work_tables
-- The run's work tables, for this session. wdh_names: every distinct name
-- cell of the table with its key (normalize_name, computed in Python), its
-- name level's candidate, and its answer by layers 4 and 5. wdh_hits: the
-- candidates of the other levels' keys, stored or learned (one per key: a
-- key's override beats its cache row). wdh_taught: what existing IDs teach.
-- No index on either: a name cell may hold a megabyte (a btree entry holds
-- about 2.7 kB); the rows are hash-joined to them, once per statement; and
-- an index on the hits (500,000 of a 1M-row table's accounts) cost 2 s to
-- build row by row and, the planner misjudging how many rows a table's
-- filters keep, tempted it into a million index probes.
DROP TABLE IF EXISTS wdh_names, wdh_hits, wdh_taught, wdh_name_answers, wdh_rows;
CREATE TEMPORARY TABLE wdh_names (
    id integer GENERATED ALWAYS AS IDENTITY,
    raw text NOT NULL, key text NOT NULL, cand text, fb_id text, fb_src text,
    ans_id text, ans_src text
) ON COMMIT PRESERVE ROWS;
CREATE TEMPORARY TABLE wdh_hits (
    match_type text NOT NULL, key text NOT NULL, cand text NOT NULL
) ON COMMIT PRESERVE ROWS;
CREATE TEMPORARY TABLE wdh_taught (
    match_type text NOT NULL, key text NOT NULL, company_id text NOT NULL, rows bigint NOT NULL
) ON COMMIT PRESERVE ROWS;
CREATE TEMPORARY TABLE wdh_name_answers (
    key text NOT NULL, company_id text, source text NOT NULL
) ON COMMIT PRESERVE ROWS;

-- name: drop_work_tables
DROP TABLE IF EXISTS wdh_names, wdh_hits, wdh_taught, wdh_name_answers, wdh_rows, wdh_learned,
    wdh_keys;

-- name: distinct_names
-- Every distinct name cell, as text (a file has no other kind), for Python
-- to key: one scan; the server hashes the names.
COPY (
    SELECT DISTINCT {name} FROM {table} AS t WHERE {name} IS NOT NULL AND {visible}
) TO STDOUT (FORMAT csv);

-- name: copy_names
COPY wdh_names (raw, key) FROM STDIN (FORMAT csv);

-- name: copy_hits
COPY wdh_hits (match_type, key, cand) FROM STDIN (FORMAT csv);

-- name: analyze_work_tables
-- Temporary tables are never analyzed by autovacuum: without statistics
-- the planner takes them for small tables and joins the rows to them by
-- nested loops, where hashing them once is far cheaper.
ANALYZE wdh_names, wdh_hits;

-- name: levels_in_cache
-- Which of these levels the cache holds any row of: a key column none of
-- whose levels it holds is not scanned (a scan of a 1M-row table's column
-- costs about a second).
SELECT l.match_type
FROM unnest({types}::text[]) AS l (match_type)
WHERE EXISTS (SELECT FROM enterprise.company_mapping AS m WHERE m.match_type = l.match_type);

-- name: cache_hits_of_column
-- Layer 2 as the run starts, for one key column of the table: its cells'
-- keys ({key}, each trimmed once) joined to the cache's rows of the
-- column's levels ({types}, with the two digits {codes} their candidates
-- carry). Straight from the rows: the cache rows are hashed and each cell
-- probes them, keeping only keys the cache holds (the column's distinct
-- keys first, a million of an account column, into a table to ANALYZE and
-- join, took three times as long). DISTINCT after the join: it groups
-- hits, not cells. A key with an override keeps it: the overrides (and
-- the names' hits) are what wdh_hits held, read once (MATERIALIZED), not
-- scanned again as the statement adds to it.
WITH held AS MATERIALIZED (SELECT match_type, key FROM wdh_hits), cached AS (
    SELECT m.match_type, m.alias_name::text AS key,
           '1' || lpad(m.priority::text, 4, '0') || l.code || '0' || m.canonical_id AS cand
    FROM enterprise.company_mapping AS m
    JOIN unnest({types}::text[], {codes}::text[]) AS l (match_type, code)
      ON l.match_type = m.match_type
    -- On the scan, so only these levels' rows are hashed (joined to l alone,
    -- the planner hashed every level's rows and filtered after the join).
    WHERE m.match_type = ANY ({types}::text[]) AND m.alias_name <> ''
), hits AS (
    SELECT DISTINCT c.match_type, c.key, c.cand
    FROM {table} AS t
    JOIN cached AS c ON c.key = {key}
    WHERE {visible}
)
INSERT INTO wdh_hits (match_type, key, cand)
SELECT h.match_type, h.key, h.cand
FROM hits AS h
WHERE NOT EXISTS (SELECT FROM held AS o WHERE o.match_type = h.match_type AND o.key = h.key);

-- name: cache_hits_of_names
-- The same for the name level, whose keys Python made (wdh_names), before
-- the other levels' (the overrides are all wdh_hits holds). Keys the cache
-- cannot hold are not looked up.
WITH held AS MATERIALIZED (SELECT match_type, key FROM wdh_hits)
INSERT INTO wdh_hits (match_type, key, cand)
SELECT m.match_type, m.alias_name,
       '1' || lpad(m.priority::text, 4, '0') || {code} || '0' || m.canonical_id
FROM (SELECT DISTINCT key FROM wdh_names) AS k
JOIN enterprise.company_mapping AS m ON m.alias_name = k.key AND m.match_type = {name_type}
WHERE k.key <> '' AND char_length(k.key) <= {max_key}
  AND NOT EXISTS (SELECT FROM held AS o WHERE o.match_type = m.match_type AND o.key = m.alias_name);

-- name: name_candidates
-- Each name cell takes its key's candidate (an override, a stored or a
-- learned mapping): one join per row later instead of two.
UPDATE wdh_names AS n
SET cand = h.cand
FROM wdh_hits AS h
WHERE h.match_type = {name_type} AND h.key = n.key
  AND n.cand IS DISTINCT FROM h.cand;

-- name: name_answers
-- The answer of a *simple* row, one whose only key with a candidate is its
-- name and whose existing-ID cell is blank (most rows, often): it depends on
-- the name cell alone, so it is worked out here once per name, not per row.
-- Its name's candidate (an override or a cache row of the name level), else
-- its name's answer by layers 4 and 5 ({waiting} before they are known),
-- else (no name) unresolved: decided_rows says the same of such a row.
UPDATE wdh_names AS n
SET ans_id = CASE WHEN left(n.cand, 1) = '0' THEN substr(n.cand, 4)
                  WHEN left(n.cand, 1) = '1' THEN substr(n.cand, 9)
                  WHEN n.key <> '' THEN n.fb_id END,
    ans_src = CASE WHEN left(n.cand, 1) = '0' THEN {yaml_source}
                   WHEN left(n.cand, 1) = '1' THEN {cache_source}
                   WHEN n.key <> '' THEN coalesce(n.fb_src, {waiting})
                   ELSE 'unresolved' END;

-- name: keyed_rows
-- Each row of {table} (those of {where}) with what decides it: its keys
-- (k0, k1, ...), each level's candidate (c_<level>; nc for names), the
-- winner among them (w), its existing ID trimmed (e) and whether that is a
-- company ID (ok), its name key (nk) and its name's answer by layers 4 and
-- 5. Each level is a hash join to its hits, only for levels that have any
-- (composed in Python from level_join). The regular expressions are not
-- run on blank cells (most rows'). OFFSET 0 keeps the subquery whole:
-- pulled up into the statements that read it, its expressions were copied
-- into every expression that uses them, and computed again and again per
-- row (5 s of a 1M-row count).
SELECT t.ctid AS rid, {keys}, {level_candidates},
       x.e, LEAST({candidates}) COLLATE "C" AS w,
       x.e <> '' AND x.e ~ {company_pattern} AND x.e !~* {not_a_company} AS ok,
       n.id AS name_id, coalesce(n.key, '') AS nk, {name} AS raw, n.cand AS nc
FROM {table} AS t
LEFT JOIN wdh_names AS n ON n.raw = {name}
{level_joins}
CROSS JOIN LATERAL (SELECT btrim(coalesce({existing}, ''), {whitespace}) AS e) AS x
WHERE {where} AND {visible}
OFFSET 0

-- name: level_join
-- One level's hits, for keyed_rows.
LEFT JOIN wdh_hits AS {alias} ON {alias}.match_type = {match_type} AND {alias}.key = {key}

-- name: decided_rows
-- staged_rows decided: the company and the source of each row, as
-- frame.py's _decide: an override; else the best cache candidate (a
-- learned key that gives the row its own existing ID: 'existing'); else the
-- row's existing ID; else its name's answer by layers 4 and 5 ({waiting}
-- before they are known); else unresolved. (Simple rows take the same from
-- name_answers, a name at a time.)
SELECT r.rid, r.nk, r.raw,
       CASE WHEN left(r.w, 1) = '0' THEN substr(r.w, 4)
            WHEN left(r.w, 1) = '1' THEN substr(r.w, 9)
            WHEN r.ok THEN r.e
            WHEN r.nk <> '' THEN r.fb_id
       END AS company_id,
       CASE WHEN left(r.w, 1) = '0' THEN ({yaml_sources}::text[])[substr(r.w, 2, 2)::int]
            WHEN left(r.w, 1) = '1' AND substr(r.w, 8, 1) = '1' AND r.ok
                 AND substr(r.w, 9) = r.e THEN 'existing'
            WHEN left(r.w, 1) = '1' THEN ({cache_sources}::text[])[substr(r.w, 6, 2)::int]
            WHEN r.ok THEN 'existing'
            WHEN r.nk <> '' THEN coalesce(r.fb_src, {waiting})
            ELSE 'unresolved'
       END AS source
FROM ({staged}) AS r

-- name: stage_rows
-- The rows that are not simple (see name_answers): no name cell, an
-- existing-ID cell, or a candidate at a level other than the name's
-- ({other_candidates}: whether the row has one; when no other level has
-- any, {keyed} reads only the rows with no name or an existing-ID cell).
-- Staged once, with what decides them, where classify and every batch read
-- them: keying the rows in every statement joined them to every level's
-- hits again (a batch hashed 500,000 account hits to write 25,000 rows).
-- Indexed by row for the batches, which read the rows of a ctid range.
CREATE TEMPORARY TABLE wdh_rows ON COMMIT PRESERVE ROWS AS
SELECT r.rid, r.name_id, r.w, r.e, r.ok
FROM ({keyed}) AS r
WHERE r.raw IS NULL OR r.e <> '' OR {other_candidates};
CREATE INDEX ON wdh_rows (rid);
ANALYZE wdh_rows;

-- name: staged_rows
-- The staged rows of {where}, with their names' keys and answers by layers
-- 4 and 5, for decided_rows.
SELECT r.rid, r.w, r.e, r.ok, n.raw, coalesce(n.key, '') AS nk, n.fb_id, n.fb_src
FROM wdh_rows AS r
LEFT JOIN wdh_names AS n ON n.id = r.name_id
WHERE {where}

-- name: teach
-- What the run learns (engine.md): rows with a company ID that no override
-- answers (w, the winner as the run started, is NULL or a cache candidate)
-- teach their company to each of their backflow keys the cache can hold.
-- A key the cache holds (its candidate is there) is not taught: its pairs
-- are counted, as skipped (the same company) or conflicts (another one).
-- The others go to wdh_taught, counted per (key, company).
WITH pairs AS (
    SELECT k.match_type, k.key, k.cand, r.e
    FROM ({keyed}) AS r
    CROSS JOIN LATERAL (VALUES {taught_keys}) AS k (match_type, key, cand)
    WHERE r.ok AND (r.w IS NULL OR left(r.w, 1) = '1')
      AND k.key <> '' AND char_length(k.key) <= {max_key}
), taught AS (
    INSERT INTO wdh_taught (match_type, key, company_id, rows)
    SELECT p.match_type, p.key, p.e, count(*)
    FROM pairs AS p
    WHERE p.cand IS NULL
    GROUP BY p.match_type, p.key, p.e
)
SELECT count(*) FILTER (WHERE cand IS NOT NULL AND substr(cand, 9) = e) AS stored_same_rows,
       count(*) FILTER (WHERE cand IS NOT NULL AND substr(cand, 9) <> e) AS stored_other_rows
FROM pairs;

-- name: taught_figures
-- Keys taught one company are learned; keys taught more are conflicts.
SELECT count(*) FILTER (WHERE ids = 1) AS learned_keys,
       coalesce(sum(rows) FILTER (WHERE ids = 1), 0)::bigint AS learned_rows,
       count(*) FILTER (WHERE ids > 1) AS conflict_keys,
       coalesce(sum(rows) FILTER (WHERE ids > 1), 0)::bigint AS conflict_rows
FROM (SELECT count(*) AS ids, sum(rows) AS rows FROM wdh_taught GROUP BY match_type, key) AS t;

-- name: learn
-- The learned keys become candidates (stored priority: the level's), and
-- wdh_learned holds them with their rows, for backflow (mappings.sql,
-- insert_learned).
WITH learned AS (
    SELECT t.match_type, t.key, min(t.company_id) AS company_id, sum(t.rows) AS rows
    FROM wdh_taught AS t
    GROUP BY t.match_type, t.key
    HAVING count(*) = 1
), held AS MATERIALIZED (
    -- The hits as they were (see cache_hits_of_column).
    SELECT match_type, key FROM wdh_hits
), levels AS (
    SELECT * FROM unnest({types}::text[], {codes}::text[], {priorities}::int[])
        AS l (match_type, code, priority)
), staged AS (
    INSERT INTO wdh_learned (alias_name, canonical_id, match_type, priority, rows)
    SELECT d.key, d.company_id, d.match_type, l.priority, d.rows
    FROM learned AS d JOIN levels AS l USING (match_type)
)
INSERT INTO wdh_hits (match_type, key, cand)
SELECT d.match_type, d.key,
       '1' || lpad(l.priority::text, 4, '0') || l.code || '1' || d.company_id
FROM learned AS d JOIN levels AS l USING (match_type)
WHERE NOT EXISTS (SELECT FROM held AS h WHERE h.match_type = d.match_type AND h.key = d.key);

-- name: classify
-- Every row counted by its answer (its source, or {waiting} for layers 4
-- and 5), and the rows each waiting name holds, per spelling: two grouping
-- sets over the rows' counts. `whole` is 3 for a count per answer; 0 for a
-- count per waiting name and spelling (key and raw are NULL for other
-- rows). A name's simple rows take its answer (name_answers): they are its
-- rows (counted by the name's id: grouped by their text, 1M names were
-- sorted by collation) less its staged ones, which are decided one by one.
-- Out as CSV for polars (a Python tuple per waiting name held 30 MB).
COPY (
    WITH per_name AS (
        SELECT n.id, count(*) AS rows
        FROM {table} AS t
        JOIN wdh_names AS n ON n.raw = {name}
        WHERE {visible}
        GROUP BY n.id
    ), staged AS (
        SELECT name_id AS id, count(*) AS rows FROM wdh_rows GROUP BY name_id
    )
    SELECT c.class, c.key, c.raw, sum(c.rows)::bigint AS rows, GROUPING(c.key, c.raw) AS whole
    FROM (
        SELECT n.ans_src AS class,
               CASE WHEN n.ans_src = {waiting} THEN n.key END AS key,
               CASE WHEN n.ans_src = {waiting} THEN n.raw END AS raw,
               p.rows - coalesce(s.rows, 0) AS rows
        FROM per_name AS p
        JOIN wdh_names AS n ON n.id = p.id
        LEFT JOIN staged AS s ON s.id = p.id
        WHERE p.rows > coalesce(s.rows, 0)
        UNION ALL
        SELECT d.source,
               CASE WHEN d.source = {waiting} THEN d.nk END,
               CASE WHEN d.source = {waiting} THEN d.raw END,
               1
        FROM ({decided}) AS d
    ) AS c
    GROUP BY GROUPING SETS ((c.class), (c.class, c.key, c.raw))
) TO STDOUT (FORMAT csv);

-- name: copy_name_answers
COPY wdh_name_answers (key, company_id, source) FROM STDIN (FORMAT csv);

-- name: set_name_answers
-- Each name cell takes its key's answer by layers 4 and 5.
UPDATE wdh_names AS n
SET fb_id = a.company_id, fb_src = a.source
FROM wdh_name_answers AS a
WHERE a.key = n.key;

-- name: write_simple_batch
-- One committed batch, first part: its simple rows (those not staged) take
-- their name's answer by a plain join to the names, no more than an UPDATE
-- of a table from a name -> ID table must do (deciding them one by one
-- took twice as long, measured on a 1M-row table). A row that holds its
-- answer already is not written again, so a rerun writes nothing.
UPDATE {table} AS t
SET {id_column} = n.ans_id, {source_column} = n.ans_src
FROM wdh_names AS n
WHERE n.raw = {name}
  AND t.ctid > %(after)s::tid AND t.ctid <= %(last)s::tid AND {visible}
  AND NOT EXISTS (
      SELECT FROM wdh_rows AS r
      WHERE r.rid = t.ctid AND r.rid > %(after)s::tid AND r.rid <= %(last)s::tid
  )
  AND (t.{id_column}, t.{source_column}) IS DISTINCT FROM (n.ans_id, n.ans_src);

-- name: write_batch
-- One committed batch, second part: its staged rows get their answers,
-- joined to the table by ctid (a TID range scan of the batch's pages). A
-- row that holds its answer already is not written again.
UPDATE {table} AS t
SET {id_column} = d.company_id, {source_column} = d.source
FROM ({decided}) AS d
WHERE t.ctid = d.rid
  AND t.ctid > %(after)s::tid AND t.ctid <= %(last)s::tid
  AND (t.{id_column}, t.{source_column}) IS DISTINCT FROM (d.company_id, d.source);
